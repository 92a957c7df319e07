/**
 * Child of model-fuzz.test.ts: loads mutated copies of a saved tiny model folder, one case after another,
 * printing one JSON line per case ("start" first, so the parent can name a case that hung or crashed).
 *
 * argv: <model folder> <scratch dir> <case spec JSON: [{ id, file: "model.safetensors" | "config.json", ... }]>
 * Outcomes: "refused" (an Error naming the folder or a file in it), "accepted" (loaded; the loaded weights
 * read back equal to what the file holds), "inconsistent" (loaded, but not what the file holds), "unclear" (an
 * error naming neither the folder nor a file in it).
 */
"use strict";
const fs = require("fs");
const path = require("path");
require("../ts-register.js");

const { loadModel } = require("../../src/model/checkpoint.ts");
const { readSafetensors } = require("../../src/model/safetensors.ts");
const { mutate } = require("../data/arrow-fuzz-cases.js");

/** A config field set to a hostile value, or a byte-level mutation of either file. */
function mutateFile(bytes, spec) {
  if (spec.kind !== "json") return mutate(bytes, spec);
  const json = JSON.parse(bytes.toString("utf8"));
  json[spec.field] = spec.value;
  return Buffer.from(JSON.stringify(json));
}

async function main() {
  const [source, scratch, specText] = process.argv.slice(2);
  const originals = new Map(fs.readdirSync(source).map((name) => [name, fs.readFileSync(path.join(source, name))]));
  for (const spec of JSON.parse(specText)) {
    process.stdout.write(JSON.stringify({ id: spec.id, start: true }) + "\n");
    const dir = path.join(scratch, `case-${spec.id}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of originals) fs.writeFileSync(path.join(dir, name), name === spec.file ? mutateFile(bytes, spec) : bytes);
    let result;
    try {
      const model = await loadModel(dir);
      try {
        // What was loaded is what the file holds (shapes and bytes), read back through the native model.
        const { tensors } = await readSafetensors(path.join(dir, "model.safetensors"));
        for (const t of tensors) {
          const back = model.native.getTensor(t.name);
          if (back.shape.join() !== t.shape.join()) throw new Error(`loaded ${t.name} as [${back.shape}], file says [${t.shape}]`);
          if (back.dtype === t.dtype && Buffer.compare(Buffer.from(back.data), Buffer.from(t.data)) !== 0) throw new Error(`loaded ${t.name} differs from the file`);
        }
        result = { outcome: "accepted" };
      } catch (err) {
        result = { outcome: "inconsistent", message: String(err && err.message) };
      } finally {
        model.native.dispose();
      }
    } catch (err) {
      const message = String(err && err.message);
      result = message.includes(dir) ? { outcome: "refused", message } : { outcome: "unclear", message: String(err && err.stack) };
    }
    fs.rmSync(dir, { recursive: true, force: true });
    process.stdout.write(JSON.stringify({ id: spec.id, ...result }) + "\n");
  }
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack) }) + "\n");
  process.exit(3);
});
