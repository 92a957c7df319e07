/**
 * Files that apache-arrow reads without complaint but that break the layout or the README's promises:
 * each must be refused with a DataError naming the file and, where one is at fault, the row and column.
 */
import { readFileSync, writeFileSync } from "fs";
import { makeData, tableToIPC, Utf8, vectorFromArray } from "apache-arrow";
import { PreferenceDataset } from "../../src/data/dataset";
import { META } from "../../src/data/schema";
import { rejectionOf } from "../helpers";
import { collect, EOS, identity, makeRecords, recordsTable, TempDir, withColumn, withMetadata } from "./fixtures";

const dir = new TempDir();
afterAll(() => dir.remove());

const records = makeRecords(10);
const table = () => recordsTable(records, 10);

async function errorOf(path: string): Promise<Error> {
  const err = await rejectionOf(collect(PreferenceDataset.fromArrow(path).batches({ batchSize: 4, negatives: 2 })));
  expect(err.name).toBe("DataError");
  return err;
}

/** A utf8 column's data with its offsets replaced. */
function textWithOffsets(edit: (offsets: Int32Array) => void) {
  return (old: Parameters<Parameters<typeof withColumn>[2] & object>[0]) => {
    const offsets = Int32Array.from(old.valueOffsets);
    edit(offsets);
    return makeData({ type: old.type, length: old.length, nullCount: 0, valueOffsets: offsets, data: old.values } as never);
  };
}

describe("Arrow structure checks", () => {
  it("accepts the files the converter writes (the shipped splits too)", async () => {
    const p = dir.writeTable("good.arrow", table());
    await expect(PreferenceDataset.fromArrow(p).validate({ negatives: 2 })).resolves.toEqual({ rows: 10 });
    for (const split of ["train", "valid"]) {
      const data = PreferenceDataset.fromArrow(`datasets/lastfm/${split}.arrow`);
      const { rows } = await data.validate({ negatives: 0 });
      expect(rows).toBe(await data.countRows());
    }
  });

  it("refuses text offsets that go backwards or run past the text, naming row and column", async () => {
    const back = dir.writeTable("back.arrow", withColumn(table(), "chosen", textWithOffsets((o) => (o[4] = o[2]))));
    expect((await errorOf(back)).message).toMatch(/back\.arrow: row 3, column "chosen": list offsets go backwards \(\d+ then \d+\) \(corrupt file\?\)/);
    const far = dir.writeTable("far.arrow", withColumn(table(), "chosen", textWithOffsets((o) => (o[6] = 1.6e9))));
    expect((await errorOf(far)).message).toMatch(/far\.arrow: row 5, column "chosen": list offsets run past the \d+ stored values \(corrupt file\?\)/);
  });

  it("names the row of a problem inside a nested list (offsets, nulls)", async () => {
    const p = dir.writeTable(
      "nested.arrow",
      withColumn(table(), "candidate_ids", (old) => {
        const inner = old.children[0];
        const offsets = Int32Array.from(inner.valueOffsets);
        offsets[27] = offsets[25]; // inner list 26 (row 4: 6 candidates a row) ends before it starts
        const edited = makeData({ type: inner.type, length: inner.length, nullCount: 0, valueOffsets: offsets, child: inner.children[0] } as never);
        return makeData({ type: old.type, length: old.length, nullCount: 0, valueOffsets: old.valueOffsets, child: edited } as never);
      }),
    );
    expect((await errorOf(p)).message).toMatch(/nested\.arrow: row 4, column "candidate_ids": list offsets go backwards \(\d+ then \d+\) \(corrupt file\?\)/);
    const q = dir.writeTable(
      "nested-null.arrow",
      withColumn(table(), "candidates", (old) => {
        const inner = old.children[0];
        const bitmap = new Uint8Array(Math.ceil(inner.length / 8)).fill(0xff);
        bitmap[2] &= ~(1 << 3); // candidate text 19: row 3
        const edited = makeData({ type: inner.type, length: inner.length, nullCount: 1, nullBitmap: bitmap, valueOffsets: inner.valueOffsets, data: inner.values } as never);
        return makeData({ type: old.type, length: old.length, nullCount: 0, valueOffsets: old.valueOffsets, child: edited } as never);
      }),
    );
    expect((await errorOf(q)).message).toBe(`${q}: row 3, column "candidates": holds a null`);
  });

  it("refuses a missing offsets buffer", async () => {
    const p = dir.writeTable(
      "nooffsets.arrow",
      withColumn(table(), "prompt", (old) => makeData({ type: old.type, length: old.length, nullCount: 0, valueOffsets: new Int32Array(0), data: old.values } as never)),
    );
    expect((await errorOf(p)).message).toMatch(/nooffsets\.arrow: row 0, column "prompt": a buffer of 0 bytes where 44 are needed \(corrupt file\?\)/);
  });

  it("refuses nulls in text columns, naming the row", async () => {
    for (const column of ["prompt", "chosen"]) {
      const p = dir.writeTable(`null-${column}.arrow`, withColumn(table(), column, () => vectorFromArray(["a", "b", null, "d", "e", "f", "g", "h", "i", "j"], new Utf8()).data[0]));
      expect((await errorOf(p)).message).toBe(`${p}: row 2, column "${column}": is null`);
    }
    const p = dir.writeTable(
      "null-history.arrow",
      withColumn(table(), "history", (old) =>
        makeData({ type: old.type, length: old.length, nullCount: 1, nullBitmap: Uint8Array.from([0xff, 0b10]), valueOffsets: old.valueOffsets, child: old.children[0] } as never),),
    );
    expect((await errorOf(p)).message).toBe(`${p}: row 8, column "history": is null`);
  });

  it("refuses another format major version and a row count the batches do not hold", async () => {
    const v99 = dir.writeTable("v99.arrow", withMetadata(table(), META.format, "sdpo-preference/99"));
    expect((await errorOf(v99)).message).toBe(`${v99}: schema metadata "sdpo.format" is "sdpo-preference/99"; this reader reads sdpo-preference/1 (major 1)`);
    const rows5 = dir.writeTable("rows5.arrow", withMetadata(table(), META.rows, "5"));
    await expect(PreferenceDataset.fromArrow(rows5).countRows()).rejects.toThrow(`${rows5}: schema metadata "sdpo.rows" says 5 rows, the record batches hold 10`);
    expect((await errorOf(rows5)).message).toMatch(/says 5 rows/);
  });

  it("refuses an EOS id outside the vocabulary", async () => {
    const p = dir.writeTable("eos.arrow", withMetadata(table(), META.tokenizer, JSON.stringify({ ...identity, eosId: identity.vocabSize })));
    expect((await errorOf(p)).message).toBe(`${p}: schema metadata "sdpo.tokenizer" has eosId 50, outside the vocabulary [0, 50)`);
  });

  it("refuses responses without EOS and empty rejected or candidate responses", async () => {
    const noEos = makeRecords(10);
    noEos[3].chosenIds = Int32Array.from([1, 2, 3]);
    const a = dir.writeTable("noeos.arrow", recordsTable(noEos, 10));
    expect((await errorOf(a)).message).toBe(`${a}: row 3, column "chosen_ids": the chosen response does not end with EOS (id ${EOS})`);
    const emptyRejected = makeRecords(10);
    emptyRejected[6].rejectedIds![1] = Int32Array.from([EOS]);
    const b = dir.writeTable("emptyrej.arrow", recordsTable(emptyRejected, 10));
    expect((await errorOf(b)).message).toBe(`${b}: row 6, column "rejected_ids": response 1 is empty`);
    const emptyCandidate = makeRecords(10);
    emptyCandidate[2].candidateIds![4] = new Int32Array(0);
    const c = dir.writeTable("emptycand.arrow", recordsTable(emptyCandidate, 10));
    expect((await errorOf(c)).message).toBe(`${c}: row 2, column "candidate_ids": response 4 is empty`);
  });

  it("refuses text and token lists of different counts", async () => {
    const mismatch = makeRecords(10);
    mismatch[7].rejected = ["only one"];
    const p = dir.writeTable("count.arrow", recordsTable(mismatch, 10));
    expect((await errorOf(p)).message).toBe(`${p}: row 7, column "rejected": 1 texts but 2 token lists in "rejected_ids"`);
  });

  it("refuses item ids outside the item vocabulary", async () => {
    const odd = makeRecords(10);
    odd[4].candidateItems[5] = -3;
    const p = dir.writeTable("items.arrow", recordsTable(odd, 10));
    expect((await errorOf(p)).message).toMatch(/items\.arrow: row 4, column "candidate_items": item id -3 is outside the item vocabulary \[0, \d+\)/);
  });

  it("refuses a FIFO or a folder in the file's place without blocking", async () => {
    const fifo = dir.file("fifo.arrow");
    require("child_process").execFileSync("mkfifo", [fifo]);
    expect((await errorOf(fifo)).message).toBe(`${fifo}: is not a regular file`);
    expect((await errorOf(dir.path)).message).toMatch(/is not a regular file|cannot open/);
  });

  it("refuses a footer that claims more bytes than the file holds, and metadata that is not UTF-8", async () => {
    const p = dir.writeTable("footer.arrow", table());
    const bytes = readFileSync(p);
    bytes.writeInt32LE(bytes.length, bytes.length - 10);
    writeFileSync(p, bytes);
    expect((await errorOf(p)).message).toMatch(/footer length \d+ does not fit the \d+-byte file/);
    const q = dir.writeTable("utf8.arrow", table());
    const text = readFileSync(q);
    text[text.indexOf("sorted-vocabulary")] = 0xff;
    writeFileSync(q, text);
    expect((await errorOf(q)).message).toBe(`${q}: footer: metadata value is not valid UTF-8 (corrupt file?)`);
  });

  it("checks IPC streams message by message: a file, a truncated stream, a wrong row count", async () => {
    const chunks = (bytes: Uint8Array) =>
      (async function* () {
        for (let i = 0; i < bytes.length; i += 100) yield bytes.subarray(i, i + 100);
      })();
    const read = (bytes: Uint8Array) => PreferenceDataset.fromArrow(chunks(bytes), { name: "s" }).validate({ negatives: 2 });
    const stream = tableToIPC(table(), "stream");
    await expect(read(stream)).resolves.toEqual({ rows: 10 });
    await expect(read(tableToIPC(table(), "file"))).rejects.toThrow("s: is an Arrow IPC file, not a stream: open it by path");
    await expect(read(stream.subarray(0, stream.length - 100))).rejects.toThrow(/^s: row 0: message 1: the stream ends \d+ bytes into its \d+-byte body \(truncated\?\)$/);
    await expect(read(tableToIPC(withMetadata(table(), META.rows, "5"), "stream"))).rejects.toThrow('s: schema metadata "sdpo.rows" says 5 rows, the record batches hold 10');
    const backwards = tableToIPC(withColumn(table(), "chosen", textWithOffsets((o) => (o[4] = o[2]))), "stream");
    await expect(read(backwards)).rejects.toThrow(/^s: row 3, column "chosen": list offsets go backwards/);
  });
});
