import { createReadStream, writeFileSync } from "fs";
import { Field, LargeList, makeData, RecordBatch, Schema, Struct, Table, tableToIPC } from "apache-arrow";
import type { PreferenceBatch } from "../../src/data/batch";
import { PreferenceDataset } from "../../src/data/dataset";
import { unpack } from "../../src/data/pack";
import { collect, makeRecords, recordsTable, TempDir } from "./fixtures";

const records = makeRecords(10);
const dir = new TempDir();
const path = dir.writeTable("small.arrow", recordsTable(records, 4));
afterAll(() => dir.remove());

const lists = (p: { values: Int32Array; offsets: Int32Array }) => unpack(p).map((x) => Array.from(x));

/** Every field of every batch checked against the records it came from. */
function checkAgainstRecords(batch: PreferenceBatch): void {
  const K = batch.negatives;
  const rowsOf = Array.from(batch.rows).map((r) => records[r]);
  expect(lists(batch.prompt)).toEqual(rowsOf.map((r) => Array.from(r.promptIds!)));
  expect(lists(batch.chosen)).toEqual(rowsOf.map((r) => Array.from(r.chosenIds!)));
  expect(Array.from(batch.chosenItem)).toEqual(rowsOf.map((r) => r.chosenItem));
  expect(batch.candidateOffsets[0]).toBe(0);
  const candidates = lists(batch.candidates);
  rowsOf.forEach((r, b) => {
    const mine = candidates.slice(batch.candidateOffsets[b], batch.candidateOffsets[b + 1]);
    expect(mine).toEqual(r.candidateIds!.map((x) => Array.from(x)));
    expect(Array.from(batch.candidateItems.subarray(batch.candidateOffsets[b], batch.candidateOffsets[b + 1]))).toEqual(r.candidateItems);
  });
  expect(batch.rejected.offsets.length).toBe(batch.size * K + 1);
  const rejected = lists(batch.rejected);
  rowsOf.forEach((r, b) => {
    for (let k = 0; k < K; k++) {
      const item = batch.rejectedItems[b * K + k];
      const j = r.candidateItems.indexOf(item);
      expect(j).toBeGreaterThanOrEqual(0);
      expect(item).not.toBe(r.chosenItem);
      expect(rejected[b * K + k]).toEqual(Array.from(r.candidateIds![j]));
    }
  });
}

describe("PreferenceDataset", () => {
  it("reads metadata and counts rows", async () => {
    const ds = PreferenceDataset.fromArrow(path);
    const md = await ds.metadata();
    expect(md.format).toBe("sdpo-preference/1");
    expect(md.tokenizer?.vocabSize).toBe(50);
    expect(await ds.countRows()).toBe(10);
  });

  it("streams batches in file order with fixed negatives, values as views on the Arrow buffers", async () => {
    const batches = await collect(PreferenceDataset.fromArrow(path).batches({ batchSize: 3, negatives: 2 }));
    expect(batches.map((b) => b.size)).toEqual([3, 3, 3, 1]);
    expect(batches.flatMap((b) => Array.from(b.rows))).toEqual([...Array(10).keys()]);
    for (const b of batches) checkAgainstRecords(b);
    // Fixed negatives are the row's rejected items, in order.
    expect(Array.from(batches[0].rejectedItems)).toEqual(records.slice(0, 3).flatMap((r) => r.rejectedItems));
    // Rows 0..2 sit in the first record batch (4 rows): prompt values are the whole Arrow buffer, offsets a view.
    const first = batches[0];
    expect(first.prompt.values.length).toBe(records.slice(0, 4).reduce((n, r) => n + r.promptIds!.length, 0));
    expect(first.prompt.offsets.buffer).toBe(first.prompt.values.buffer);
    // Rows 3..5 straddle two record batches: gathered into a fresh array.
    expect(batches[1].prompt.values.length).toBe(records.slice(3, 6).reduce((n, r) => n + r.promptIds!.length, 0));
  });

  it("shuffles deterministically per (seed, epoch), each row once, with a bounded buffer too", async () => {
    const order = async (opts: object) =>
      (await collect(PreferenceDataset.fromArrow(path).batches({ batchSize: 4, negatives: 1, shuffle: true, ...opts }))).flatMap(
        (b) => Array.from(b.rows),
      );
    const a = await order({ seed: 1, epoch: 0 });
    expect(await order({ seed: 1, epoch: 0 })).toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    expect(a).not.toEqual([...Array(10).keys()]);
    expect(await order({ seed: 1, epoch: 1 })).not.toEqual(a);
    const bounded = await order({ seed: 1, shuffleBuffer: 3 });
    expect([...bounded].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    for (const b of await collect(PreferenceDataset.fromArrow(path).batches({ batchSize: 4, negatives: 2, shuffle: true, seed: 3 }))) {
      checkAgainstRecords(b);
    }
  });

  it("draws random negatives from the candidates minus the chosen one, per (seed, epoch, row)", async () => {
    const draw = async (opts: object) =>
      (await collect(PreferenceDataset.fromArrow(path).batches({ batchSize: 5, negatives: 4, negativeSampling: "random", ...opts })));
    const e0 = await draw({ seed: 7, epoch: 0 });
    for (const b of e0) {
      checkAgainstRecords(b);
      for (let i = 0; i < b.size; i++) expect(new Set(b.rejectedItems.subarray(i * 4, i * 4 + 4)).size).toBe(4);
    }
    const items = (bs: PreferenceBatch[]) => bs.flatMap((b) => Array.from(b.rejectedItems));
    expect(items(await draw({ seed: 7, epoch: 0 }))).toEqual(items(e0));
    expect(items(await draw({ seed: 7, epoch: 1 }))).not.toEqual(items(e0));
    // The draw depends on the row, not on batching.
    expect(items(await draw({ seed: 7, epoch: 0, batchSize: 3 }))).toEqual(items(e0));
  });

  it("draws from the candidates in fixed mode where a row has no rejected responses", async () => {
    const p = dir.writeTable("norejected.arrow", recordsTable(makeRecords(5, { rejected: 0 })));
    const [b] = await collect(PreferenceDataset.fromArrow(p).batches({ batchSize: 5, negatives: 3 }));
    expect(b.rejectedItems.length).toBe(15);
    for (let i = 0; i < 5; i++) expect(Array.from(b.rejectedItems.subarray(i * 3, i * 3 + 3))).not.toContain(b.chosenItem[i]);
  });

  it("skips batches for resume and can drop a short last batch", async () => {
    const opts = { batchSize: 3, negatives: 1, shuffle: true, seed: 5 };
    const all = await collect(PreferenceDataset.fromArrow(path).batches(opts));
    const resumed = await collect(PreferenceDataset.fromArrow(path).batches({ ...opts, skipBatches: 2 }));
    expect(resumed.map((b) => Array.from(b.rows))).toEqual(all.slice(2).map((b) => Array.from(b.rows)));
    const dropped = await collect(PreferenceDataset.fromArrow(path).batches({ ...opts, dropLast: true }));
    expect(dropped.map((b) => b.size)).toEqual([3, 3, 3]);
  });

  it("takes the first K of longer fixed rejected lists (offsets and values gathered)", async () => {
    const batches = await collect(PreferenceDataset.fromArrow(path).batches({ batchSize: 4, negatives: 1 }));
    for (const b of batches) checkAgainstRecords(b);
    expect(Array.from(batches[0].rejectedItems)).toEqual(records.slice(0, 4).map((r) => r.rejectedItems[0]));
  });

  it("counts rows by scanning when the metadata has no row count", async () => {
    const table = recordsTable(records, 3);
    table.schema.metadata.delete("sdpo.rows");
    const p = dir.writeTable("norows.arrow", table);
    const ds = PreferenceDataset.fromArrow(p);
    expect((await ds.metadata()).rows).toBeUndefined();
    expect(await ds.countRows()).toBe(10);
  });

  it("decodes texts lazily", async () => {
    const [b] = await collect(PreferenceDataset.fromArrow(path).batches({ batchSize: 2 }));
    expect(b.text.prompt).toEqual(["prompt 0", "prompt 1"]);
    expect(b.text.chosen).toEqual([records[0].chosen, records[1].chosen]);
    expect(b.text.candidates[1]).toEqual(records[1].candidates);
  });

  it("reads an IPC stream once", async () => {
    const streamPath = dir.file("stream.arrows");
    writeFileSync(streamPath, tableToIPC(recordsTable(records, 4), "stream"));
    const ds = PreferenceDataset.fromArrow(createReadStream(streamPath));
    const batches = await collect(ds.batches({ batchSize: 4, negatives: 2 }));
    expect(batches.flatMap((b) => Array.from(b.rows))).toEqual([...Array(10).keys()]);
    await expect(collect(ds.batches({ batchSize: 4 }))).rejects.toThrow(/a stream can be read once/);
  });

  it("accepts large_list token columns as pyarrow writes them", async () => {
    const table = recordsTable(records, 10);
    const large = (data: ReturnType<typeof makeData>, depth: number): ReturnType<typeof makeData> => {
      const child = depth > 1 ? large(data.children[0], depth - 1) : data.children[0];
      const type = new LargeList(new Field("item", child.type, false));
      const offsets = BigInt64Array.from(Array.from(data.valueOffsets as Int32Array).slice(0, data.length + 1), BigInt);
      return makeData({ type, length: data.length, nullCount: 0, valueOffsets: offsets, child } as never);
    };
    const src = table.batches[0];
    const children = table.schema.fields.map((f, i) => {
      const d = src.data.children[i];
      if (f.name === "prompt_ids") return large(d, 1);
      if (f.name === "candidate_ids") return large(d, 2);
      return d;
    });
    const fields = table.schema.fields.map((f, i) => new Field(f.name, children[i].type, false));
    const schema = new Schema(fields, table.schema.metadata);
    const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length: 10, nullCount: 0, children }));
    const p = dir.writeTable("large.arrow", new Table(schema, [batch]));
    expect(String((await PreferenceDataset.fromArrow(p).schema()).fields.find((f) => f.name === "candidate_ids")?.type)).toBe(
      "LargeList<LargeList<Int32>>",
    );
    for (const b of await collect(PreferenceDataset.fromArrow(p).batches({ batchSize: 4, negatives: 2, negativeSampling: "random" }))) {
      checkAgainstRecords(b);
    }
  });
});
