import { readFileSync, writeFileSync } from "fs";
import { Float32, makeData, vectorFromArray } from "apache-arrow";
import { PreferenceDataset } from "../../src/data/dataset";
import { rejectionOf } from "../helpers";
import { collect, EOS, makeRecords, recordsTable, TempDir, withColumn } from "./fixtures";

const dir = new TempDir();
afterAll(() => dir.remove());

/** The first error reading every batch of `path` with `options`. */
async function errorOf(path: string, options: object = {}, datasetOptions: object = {}): Promise<Error> {
  return rejectionOf(collect(PreferenceDataset.fromArrow(path, datasetOptions).batches({ batchSize: 4, negatives: 2, ...options })));
}

describe("preference file validation", () => {
  const records = makeRecords(10);
  const good = dir.writeTable("good.arrow", recordsTable(records));

  it("names a missing column and its expected type", async () => {
    const p = dir.writeTable("missing.arrow", withColumn(recordsTable(records), "candidate_ids"));
    const err = await errorOf(p);
    expect(err.name).toBe("DataError");
    expect(err.message).toBe(`${p}: column "candidate_ids": is missing (expected list<list<int32>>)`);
  });

  it("names a column of the wrong type with the expected and actual types", async () => {
    const p = dir.writeTable(
      "wrongtype.arrow",
      withColumn(recordsTable(records), "chosen_item", (old) => vectorFromArray(Array.from({ length: old.length }, () => 1.5), new Float32()).data[0]),
    );
    expect((await errorOf(p)).message).toBe(`${p}: column "chosen_item": has type float32, expected int32`);
  });

  it("says a text-only file needs converting with a tokenizer", async () => {
    const p = dir.writeTable("textonly.arrow", recordsTable(records.map(({ promptIds, chosenIds, rejectedIds, candidateIds, ...rest }) => rest), 4, null));
    expect((await errorOf(p)).message).toMatch(/textonly\.arrow: has no token columns .* convert it with --tokenizer/);
  });

  it("finds token ids outside the vocabulary, with the row, also in nested lists", async () => {
    const bad = makeRecords(10);
    bad[3].promptIds = Int32Array.from([1, 50, 2]);
    const p = dir.writeTable("vocab.arrow", recordsTable(bad));
    expect((await errorOf(p)).message).toBe(`${p}: row 3, column "prompt_ids": token id 50 is outside the vocabulary [0, 50)`);

    const nested = makeRecords(10);
    nested[6].candidateIds![4] = Int32Array.from([-2, EOS]);
    const q = dir.writeTable("vocab-nested.arrow", recordsTable(nested));
    expect((await errorOf(q)).message).toBe(`${q}: row 6, column "candidate_ids": token id -2 is outside the vocabulary [0, 50)`);

    // A vocabulary size given as an option overrides the metadata's.
    expect((await errorOf(good, {}, { vocabSize: 40 })).message).toMatch(/row 0, column "chosen_ids": token id 48 is outside the vocabulary \[0, 40\)/);
  });

  it("refuses an empty chosen response", async () => {
    const bad = makeRecords(10);
    bad[2].chosenIds = Int32Array.from([EOS]);
    const p = dir.writeTable("emptychosen.arrow", recordsTable(bad));
    expect((await errorOf(p)).message).toBe(`${p}: row 2, column "chosen_ids": the chosen response is empty`);
    bad[2].chosenIds = new Int32Array(0);
    const q = dir.writeTable("emptychosen2.arrow", recordsTable(bad));
    expect((await errorOf(q)).message).toBe(`${q}: row 2, column "chosen_ids": the chosen response is empty`);
  });

  it("refuses a chosen item that is not among the candidates", async () => {
    const bad = makeRecords(10);
    bad[5].chosenItem = 999;
    const p = dir.writeTable("notcandidate.arrow", recordsTable(bad));
    expect((await errorOf(p)).message).toBe(`${p}: row 5, column "chosen_item": chosen item 999 is not among the row's 6 candidates`);
  });

  it("refuses fewer candidates (or fixed rejected responses) than the negatives asked for", async () => {
    expect((await errorOf(good, { negatives: 6, negativeSampling: "random" })).message).toBe(
      `${good}: row 0, column "candidate_ids": 6 negatives asked for, but only 5 candidates besides the chosen one`,
    );
    expect((await errorOf(good, { negatives: 3 })).message).toBe(
      `${good}: row 0, column "rejected_ids": 3 negatives asked for (fixed), but the row has 2 rejected responses`,
    );
    await expect(PreferenceDataset.fromArrow(good).validate({ negatives: 5, negativeSampling: "random" })).resolves.toEqual({ rows: 10 });
  });

  it("refuses nulls, naming the row", async () => {
    const p = dir.writeTable(
      "null.arrow",
      withColumn(recordsTable(records, 10), "chosen_item", (old) => vectorFromArray([...Array.from({ length: old.length - 1 }, () => 1), null]).data[0]),
    );
    // vectorFromArray of numbers gives float64; the null is found (structure) before the type (schema); int32 by hand too.
    expect((await errorOf(p)).message).toBe(`${p}: row 9, column "chosen_item": is null`);
    const values = Int32Array.from(records.map((r) => r.chosenItem));
    const nullBitmap = Uint8Array.from([0xff, 0b01]); // row 9 null
    const q = dir.writeTable(
      "null2.arrow",
      withColumn(recordsTable(records, 10), "chosen_item", (old) =>
        makeData({ type: old.type, length: 10, nullCount: 1, data: values, nullBitmap } as never),
      ),
    );
    expect((await errorOf(q)).message).toBe(`${q}: row 9, column "chosen_item": is null`);
  });

  it("reports truncated and corrupt files as errors, never a hang or a crash", async () => {
    const bytes = readFileSync(good);
    for (const cut of [0, 5, 64, Math.floor(bytes.length / 2), bytes.length - 10]) {
      const p = dir.file(`truncated-${cut}.arrow`);
      writeFileSync(p, bytes.subarray(0, cut));
      const err = await errorOf(p);
      expect(err.name).toBe("DataError");
      expect(err.message).toContain(p);
      expect(err.message).toMatch(/(not an Arrow IPC file|not a complete Arrow IPC file|corrupt file\?)/);
    }
    const garbage = dir.file("garbage.arrow");
    writeFileSync(garbage, Buffer.from("ARROW1\0\0 this is not arrow at all, just words".repeat(20)));
    expect((await errorOf(garbage)).message).toMatch(/garbage\.arrow: not a complete Arrow IPC file/);
    expect((await errorOf(dir.file("absent.arrow"))).message).toMatch(/absent\.arrow: cannot open/);
  });

  it("catches list offsets that run past the values (a corrupt body)", async () => {
    const table = withColumn(recordsTable(records, 10), "prompt_ids", (old) => {
      const offsets = Int32Array.from(old.valueOffsets.subarray(0, 11));
      offsets[7] = 1000;
      offsets[8] = 1001;
      offsets[9] = 1002;
      offsets[10] = 1003;
      return makeData({ type: old.type, length: 10, nullCount: 0, valueOffsets: offsets, child: old.children[0] } as never);
    });
    const p = dir.writeTable("offsets.arrow", table);
    expect((await errorOf(p)).message).toMatch(/offsets\.arrow: row \d, column "prompt_ids": list offsets run past the \d+ stored values \(corrupt file\?\)/);
  });
});
