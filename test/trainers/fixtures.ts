/** Tiny models and preference files for the trainer tests, built in-test (vocab 64, dim 32, 2 layers). */
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { recordsToTable, writeArrowFile, type PreferenceRecord } from "../../src/data/arrow_write";
import { preferenceSchema, type TokenizerIdentity } from "../../src/data/schema";
import { createModel } from "../../src/model/checkpoint";
import { Model } from "../../src/model/model";
import type { ModelDType, NativeModelConfig, TrainBatchInput } from "../../src/native";

export const VOCAB = 64;
export const EOS = 63;
const identity: TokenizerIdentity = { hash: "trainer-test", vocabSize: VOCAB, eosId: EOS, padId: 62, eosToken: "<e>", padToken: "<p>" };

export const tinyConfig: NativeModelConfig = {
  model_type: "llama",
  vocab_size: VOCAB,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  rope_scaling: null,
  tie_word_embeddings: false,
  attention_bias: false,
  qk_norm: false,
};

export function tinyModel(options: { dtype?: ModelDType; seed?: number; lora?: { rank: number; dropout?: number } } = {}): Model {
  const loaded = createModel(tinyConfig, { dtype: options.dtype ?? "float64", seed: options.seed ?? 7, lora: options.lora });
  return new Model(loaded.native);
}

/** Every parameter's bytes, by name (merged: false), to compare runs bit for bit. */
export function parameterBytes(model: Model): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const p of model.native.parameterInfo()) {
    const t = model.native.getTensor(p.name);
    out.set(p.name, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return out;
}

/** One float64 parameter's values (a copy). */
export function parameterFloats(model: Model, name: string): Float64Array {
  const t = model.native.getTensor(name);
  return new Float64Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
}

export function maxAbsDiff(a: Model, b: Model): number {
  let worst = 0;
  for (const p of a.native.parameterInfo()) {
    const x = a.native.getTensor(p.name);
    const y = b.native.getTensor(p.name);
    const fx = new Float64Array(x.data.buffer.slice(x.data.byteOffset, x.data.byteOffset + x.data.byteLength));
    const fy = new Float64Array(y.data.buffer.slice(y.data.byteOffset, y.data.byteOffset + y.data.byteLength));
    for (let i = 0; i < fx.length; i++) worst = Math.max(worst, Math.abs(fx[i] - fy[i]));
  }
  return worst;
}

/** Row i: 5 candidates; the chosen one at position i % 5; 3 fixed negatives; prompts tell rows apart. */
export function records(rows: number, candidates = 5): PreferenceRecord[] {
  return Array.from({ length: rows }, (_, i) => {
    const items = Array.from({ length: candidates }, (_, j) => j);
    const chosenAt = i % candidates;
    const rejectedItems = items.filter((j) => j !== chosenAt).slice(0, 3);
    const idsOf = (item: number) => Int32Array.from([20 + item, 30 + ((item * 3) % 10), EOS]);
    return {
      prompt: `p${i}`,
      chosen: `item ${chosenAt}`,
      rejected: rejectedItems.map((j) => `item ${j}`),
      candidates: items.map((j) => `item ${j}`),
      history: [],
      chosenItem: chosenAt,
      rejectedItems,
      candidateItems: items,
      promptIds: Int32Array.from([1 + (i % 8), 10 + chosenAt, 5]),
      chosenIds: idsOf(chosenAt),
      rejectedIds: rejectedItems.map(idsOf),
      candidateIds: items.map(idsOf),
    };
  });
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), "sdpo-trainer-test-"));
  file(name: string): string {
    return join(this.path, name);
  }
  arrow(name: string, rows: number, candidates = 5): string {
    return this.arrowOf(name, records(rows, candidates));
  }
  arrowOf(name: string, recs: PreferenceRecord[]): string {
    const schema = preferenceSchema({ tokenizer: identity, templates: ["t"], items: itemVocabulary(recs), rows: recs.length });
    const file = this.file(name);
    writeArrowFile(recordsToTable(recs, schema, 4), file);
    return file;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** One example of a hand-made training batch: its prompt, chosen response and negatives (null: masked). */
export interface ExampleTokens {
  prompt: number[];
  chosen: number[];
  rejected: (number[] | null)[];
}

/**
 * Packs examples the way the native step takes them: every chosen response first (in example order),
 * then the negatives row-major; a null negative becomes -1 in rejectedIndex (masked).
 */
export function packTrainBatch(examples: ExampleTokens[]): TrainBatchInput {
  const promptIds: number[] = [];
  const promptOffsets = [0];
  const responseIds: number[] = [];
  const responseOffsets = [0];
  const responsePrompt: number[] = [];
  const add = (tokens: number[], prompt: number): number => {
    responseIds.push(...tokens);
    responseOffsets.push(responseIds.length);
    responsePrompt.push(prompt);
    return responsePrompt.length - 1;
  };
  examples.forEach((e) => {
    promptIds.push(...e.prompt);
    promptOffsets.push(promptIds.length);
  });
  const chosenIndex = examples.map((e, b) => add(e.chosen, b));
  const rejectedIndex = examples.flatMap((e, b) => e.rejected.map((r) => (r === null ? -1 : add(r, b))));
  return {
    promptIds: Int32Array.from(promptIds),
    promptOffsets: Int32Array.from(promptOffsets),
    responseIds: Int32Array.from(responseIds),
    responseOffsets: Int32Array.from(responseOffsets),
    responsePrompt: Int32Array.from(responsePrompt),
    chosenIndex: Int32Array.from(chosenIndex),
    rejectedIndex: Int32Array.from(rejectedIndex),
  };
}

/** Titles "item 0" .. "item N" covering every item id the records use (the reader checks ids against them). */
export function itemVocabulary(records: PreferenceRecord[]): string[] {
  let top = -1;
  for (const r of records) for (const id of [r.chosenItem, ...r.rejectedItems, ...r.candidateItems]) top = Math.max(top, id);
  return Array.from({ length: top + 1 }, (_, i) => `item ${i}`);
}
