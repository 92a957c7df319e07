/** Small preference files for the data tests, written to a temp dir. */
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { Data, Field, makeData, RecordBatch, Schema, Struct, Table } from "apache-arrow";
import { PreferenceRecord, recordsToTable, writeArrowFile } from "../../src/data/arrow_write";
import { preferenceSchema, TokenizerIdentity } from "../../src/data/schema";

export const VOCAB = 50;
export const EOS = 48;
export const identity: TokenizerIdentity = { hash: "test", vocabSize: VOCAB, eosId: EOS, padId: 49, eosToken: "<e>", padToken: "<p>" };

/** Row i: 6 candidates (items 10i..10i+5), the chosen one at position i % 6, 2 fixed rejected. */
export function makeRecords(rows: number, options: { rejected?: number; candidates?: number } = {}): PreferenceRecord[] {
  const C = options.candidates ?? 6;
  const R = options.rejected ?? 2;
  return Array.from({ length: rows }, (_, i) => {
    const candidateItems = Array.from({ length: C }, (_, j) => 10 * i + j);
    const chosenAt = i % C;
    const others = candidateItems.filter((_, j) => j !== chosenAt);
    const rejectedItems = others.slice(0, R);
    const idsOf = (item: number) => Int32Array.from([item % 40, (item * 7) % 40, EOS]);
    return {
      prompt: `prompt ${i}`,
      chosen: `item ${candidateItems[chosenAt]}`,
      rejected: rejectedItems.map((x) => `item ${x}`),
      candidates: candidateItems.map((x) => `item ${x}`),
      history: [`h${i}`],
      chosenItem: candidateItems[chosenAt],
      rejectedItems,
      candidateItems,
      promptIds: Int32Array.from({ length: 1 + (i % 5) }, (_, t) => (i + t) % 40),
      chosenIds: idsOf(candidateItems[chosenAt]),
      rejectedIds: rejectedItems.map(idsOf),
      candidateIds: candidateItems.map(idsOf),
    };
  });
}

/** tokenizer null: a text-only file. */
export function recordsTable(records: PreferenceRecord[], batchRows = 4, tokenizer: TokenizerIdentity | null = identity): Table {
  const schema = preferenceSchema({ tokenizer: tokenizer ?? undefined, templates: ["t"], items: itemVocabulary(records), rows: records.length });
  return recordsToTable(records, schema, batchRows);
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), "sdpo-data-test-"));
  file(name: string): string {
    return join(this.path, name);
  }
  writeTable(name: string, table: Table): string {
    const path = this.file(name);
    writeArrowFile(table, path);
    return path;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

/** Titles "item 0" .. "item N" covering every item id the records use (the reader checks ids against them). */
export function itemVocabulary(records: PreferenceRecord[]): string[] {
  let top = -1;
  for (const r of records) for (const id of [r.chosenItem, ...r.rejectedItems, ...r.candidateItems]) top = Math.max(top, id);
  return Array.from({ length: top + 1 }, (_, i) => `item ${i}`);
}

/** `table` with column `name` replaced by `data` (and its field retyped), or dropped when data is undefined. */
export function withColumn(table: Table, name: string, make?: (old: Data) => Data): Table {
  const batches = table.batches.map((batch) => {
    const fields: Field[] = [];
    const children: Data[] = [];
    batch.schema.fields.forEach((f, i) => {
      if (f.name !== name) {
        fields.push(f);
        children.push(batch.data.children[i]);
      } else if (make) {
        const data = make(batch.data.children[i]);
        fields.push(new Field(f.name, data.type, data.nullCount > 0));
        children.push(data);
      }
    });
    const schema = new Schema(fields, table.schema.metadata);
    return new RecordBatch(schema, makeData({ type: new Struct(fields), length: batch.numRows, nullCount: 0, children }));
  });
  return new Table(batches[0].schema, batches);
}

/** `table` with schema metadata `key` set to `value` (or removed when undefined). */
export function withMetadata(table: Table, key: string, value: string | undefined): Table {
  const metadata = new Map(table.schema.metadata);
  if (value === undefined) metadata.delete(key);
  else metadata.set(key, value);
  const schema = new Schema(table.schema.fields, metadata);
  return new Table(schema, table.batches.map((b) => new RecordBatch(schema, b.data)));
}
