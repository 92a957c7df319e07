/**
 * referenceMode "precomputed": reference log-probs of every response a run can meet (each example's
 * chosen, its negatives and its candidate list), scored once before the first update and kept, so
 * the reference policy never runs again. Keyed by source, row and response tokens: by row and tokens so
 * it does not depend on which negatives an epoch happens to draw, by source because row r of the training
 * data and row r of the eval data are different examples (different prompts) that may share a response.
 * Each row's prompt is remembered as a hash and checked at every lookup, so a row whose prompt changed since it
 * was scored (other data, a re-rendered prompt) is refused instead of getting another prompt's log-prob.
 */
import type { PackedTokens, PreferenceBatch } from "../data/batch";
import type { NativeModel, TrainBatchInput } from "../native";
import { listAt } from "./pack";
import type { PreferenceSource, SourceKey } from "./source";

function keyOf(tokens: Int32Array): string {
  return tokens.join(",");
}

/** Log-probs of one source: row -> response tokens (comma-separated ids) -> log-prob. */
export type ReferenceEntries = Map<number, Map<string, number>>;
type SourceEntries = ReferenceEntries;

/** A source's scores as stored: the log-probs and each row's prompt hash (promptHash). */
export interface StoredReference {
  logps: ReferenceEntries;
  prompts: Map<number, number>;
}

/** FNV-1a over the token ids: tells two prompts apart (not a security hash). */
export function promptHash(tokens: ArrayLike<number>): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < tokens.length; i++) {
    let t = tokens[i] | 0;
    for (let byte = 0; byte < 4; byte++) {
      h = Math.imul(h ^ (t & 0xff), 0x01000193);
      t >>>= 8;
    }
  }
  return h | 0;
}

export class ReferenceCache {
  private readonly bySource = new Map<SourceKey, SourceEntries>();
  private readonly promptsBySource = new Map<SourceKey, Map<number, number>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The scores of the source known as `key` (to store them), or undefined when it was not scored. */
  stored(key: SourceKey): StoredReference | undefined {
    const logps = this.bySource.get(key);
    return logps && { logps, prompts: this.promptsBySource.get(key) ?? new Map() };
  }

  /** Takes stored scores as the source known as `key`'s (a resumed run's, read from its checkpoint). */
  restore(key: SourceKey, stored: StoredReference): void {
    if (this.bySource.has(key)) throw new Error("ReferenceCache.restore: this source is scored already");
    this.bySource.set(key, stored.logps);
    this.promptsBySource.set(key, stored.prompts);
    for (const responses of stored.logps.values()) this.count += responses.size;
  }

  /** Whether the source known as `key` has been scored. */
  has(key: SourceKey): boolean {
    return this.bySource.has(key);
  }

  /** Scores every response of `source` (known as `key`) with the reference policy (adapters off). */
  async add(model: NativeModel, key: SourceKey, source: PreferenceSource, options: { batchSize: number; negatives: number }): Promise<void> {
    if (this.bySource.has(key)) return;
    const byRow: SourceEntries = new Map();
    const prompts = new Map<number, number>();
    const batches = source.batches({ batchSize: options.batchSize, negatives: options.negatives, shuffle: false, seed: 0, epoch: 0, skipBatches: 0 });
    for await (const batch of batches) {
      for (let b = 0; b < batch.size; b++) prompts.set(batch.rows[b], promptHash(listAt(batch.prompt, b)));
      await this.addBatch(model, byRow, batch);
    }
    this.bySource.set(key, byRow);
    this.promptsBySource.set(key, prompts);
  }

  private async addBatch(model: NativeModel, byRow: SourceEntries, batch: PreferenceBatch): Promise<void> {
    // Every distinct response of each example, once.
    const lists: { b: number; tokens: Int32Array }[] = [];
    for (let b = 0; b < batch.size; b++) {
      const seen = new Set<string>();
      const take = (tokens: Int32Array) => {
        const key = keyOf(tokens);
        if (tokens.length === 0 || seen.has(key) || byRow.get(batch.rows[b])?.has(key)) return;
        seen.add(key);
        lists.push({ b, tokens });
      };
      take(listAt(batch.chosen, b));
      for (let k = 0; k < batch.negatives; k++) take(listAt(batch.rejected, b * batch.negatives + k));
      const cands: PackedTokens = batch.candidates;
      if (batch.candidateOffsets.length > b + 1) {
        for (let c = batch.candidateOffsets[b]; c < batch.candidateOffsets[b + 1]; c++) take(listAt(cands, c));
      }
    }
    if (lists.length === 0) return;
    const base = batch.prompt.offsets[0];
    const promptOffsets = new Int32Array(batch.size + 1);
    for (let b = 0; b <= batch.size; b++) promptOffsets[b] = batch.prompt.offsets[b] - base;
    const total = lists.reduce((n, l) => n + l.tokens.length, 0);
    const responseIds = new Int32Array(total);
    const responseOffsets = new Int32Array(lists.length + 1);
    const responsePrompt = new Int32Array(lists.length);
    lists.forEach((l, r) => {
      responseIds.set(l.tokens, responseOffsets[r]);
      responseOffsets[r + 1] = responseOffsets[r] + l.tokens.length;
      responsePrompt[r] = l.b;
    });
    const { logps } = await model.score(
      { promptIds: batch.prompt.values.subarray(base, batch.prompt.offsets[batch.size]), promptOffsets, responseIds, responseOffsets, responsePrompt },
      { adapters: false }
    );
    lists.forEach((l, r) => {
      const row = batch.rows[l.b];
      let map = byRow.get(row);
      if (!map) byRow.set(row, (map = new Map()));
      map.set(keyOf(l.tokens), logps[r]);
      this.count++;
    });
  }

  /** Reference log-probs for the responses of a packed batch made from `batch` of the source known as `key`. */
  lookup(key: SourceKey, batch: PreferenceBatch, packed: TrainBatchInput): Float64Array {
    const byRow = this.bySource.get(key);
    if (!byRow) throw new Error(`referenceMode "precomputed": this data was not scored when the reference log-probs were computed`);
    const prompts = this.promptsBySource.get(key);
    for (let b = 0; b < batch.size; b++) {
      const scored = prompts?.get(batch.rows[b]);
      if (scored !== undefined && scored !== promptHash(listAt(batch.prompt, b))) {
        throw new RangeError(
          `referenceMode "precomputed": row ${batch.rows[b]}'s prompt is not the one its reference log-probs were computed for ` +
            "(the data changed since they were scored, or it re-renders prompts): train on the data the run started with"
        );
      }
    }
    const R = packed.responsePrompt.length;
    const out = new Float64Array(R);
    for (let r = 0; r < R; r++) {
      const row = batch.rows[packed.responsePrompt[r]];
      const tokens = packed.responseIds.subarray(packed.responseOffsets[r], packed.responseOffsets[r + 1]);
      const value = byRow.get(row)?.get(keyOf(tokens));
      if (value === undefined) {
        throw new RangeError(
          `referenceMode "precomputed": no reference log-prob for a response of row ${row} ` +
            `(it was not among that row's chosen, negatives or candidates when the cache was built)`
        );
      }
      out[r] = value;
    }
    return out;
  }
}
