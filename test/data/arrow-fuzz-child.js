/**
 * Child of arrow-fuzz.test.ts: reads mutated copies of an Arrow file, one case after another, and prints one
 * JSON line per case. Run in its own process under a time and address-space limit, so a hang or a signal
 * is seen by the parent (and names the case that was in progress: the last "start" line).
 *
 * argv: <source.arrow> <scratch dir> <case spec JSON: [{ id, kind, stream?, ... }]>
 * Outcomes: "refused" (a DataError), "accepted" (read, and the decoded data is consistent), "unclear" (an
 * error that is not a DataError), "inconsistent" (accepted, but the decoded data breaks the layout).
 */
"use strict";
const fs = require("fs");
const path = require("path");
// The TypeScript sources, compiled on require (as jest does), so the test needs no build.
require("../ts-register.js");

const { tableFromIPC, tableToIPC, Type } = require("apache-arrow");
const { PreferenceDataset } = require("../../src/data/dataset.ts");
const { DataError } = require("../../src/data/errors.ts");
const { mutate } = require("./arrow-fuzz-cases.js");

/** Slow reference check of what apache-arrow decoded: every length, offset and buffer consistent. */
function checkData(data, expectedLength, where) {
  if (data.length < expectedLength) throw new Error(`${where}: ${data.length} values, ${expectedLength} needed`);
  if (data.nullCount !== 0) throw new Error(`${where}: ${data.nullCount} nulls`);
  const n = data.length;
  const offsetsEnd = () => {
    const o = data.valueOffsets;
    if (!o || o.length < n + 1) throw new Error(`${where}: ${o ? o.length : 0} offsets for ${n} values`);
    let previous = Number(o[0]);
    if (previous < 0) throw new Error(`${where}: negative offset`);
    for (let i = 1; i <= n; i++) {
      const v = Number(o[i]);
      if (v < previous) throw new Error(`${where}: offsets go backwards at ${i}`);
      previous = v;
    }
    return previous;
  };
  switch (data.typeId) {
    case Type.Int:
      if (!data.values || data.values.length < n) throw new Error(`${where}: ${data.values ? data.values.length : 0} ints for ${n}`);
      return;
    case Type.Utf8:
    case Type.LargeUtf8: {
      const end = offsetsEnd();
      if (!data.values || end > data.values.length) throw new Error(`${where}: text offsets end at ${end} of ${data.values ? data.values.length : 0}`);
      return;
    }
    case Type.List:
    case Type.LargeList:
      return checkData(data.children[0], offsetsEnd(), `${where}[]`);
    default:
      throw new Error(`${where}: unexpected type ${data.type}`);
  }
}

function checkDecoded(bytes, rows) {
  const table = tableFromIPC(bytes);
  let total = 0;
  for (const batch of table.batches) {
    batch.schema.fields.forEach((field, i) => checkData(batch.data.children[i], batch.numRows, field.name));
    for (const child of batch.data.children) {
      if (child.length !== batch.numRows) throw new Error(`a column of ${child.length} values in a batch of ${batch.numRows} rows`);
    }
    total += batch.numRows;
  }
  if (total !== rows) throw new Error(`${total} rows decoded, ${rows} validated`);
}

async function main() {
  const [source, scratch, specText] = process.argv.slice(2);
  const original = fs.readFileSync(source);
  // Cases with `stream: true` mutate the same table in the IPC stream format, read as a byte stream.
  const stream = Buffer.from(tableToIPC(tableFromIPC(original), "stream"));
  const cases = JSON.parse(specText);
  for (const spec of cases) {
    process.stdout.write(JSON.stringify({ id: spec.id, start: true }) + "\n");
    const bytes = mutate(spec.stream ? stream : original, spec);
    const file = path.join(scratch, `case-${spec.id}.arrow`);
    fs.writeFileSync(file, bytes);
    let result;
    try {
      let rows;
      if (spec.stream) {
        const chunks = async function* () {
          for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
        };
        ({ rows } = await PreferenceDataset.fromArrow(chunks(), { name: file }).validate({ negatives: 0 }));
      } else {
        const data = PreferenceDataset.fromArrow(file);
        ({ rows } = await data.validate({ negatives: 0 }));
        await data.metadata();
      }
      try {
        checkDecoded(bytes, rows);
        result = { outcome: "accepted" };
      } catch (err) {
        result = { outcome: "inconsistent", message: err.message };
      }
    } catch (err) {
      result = err instanceof DataError ? { outcome: "refused", message: err.message } : { outcome: "unclear", message: String(err && err.stack) };
    }
    fs.rmSync(file, { force: true });
    process.stdout.write(JSON.stringify({ id: spec.id, ...result }) + "\n");
  }
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack) }) + "\n");
  process.exit(3);
});
