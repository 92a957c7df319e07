/**
 * RoDPO-style negative pool: per example (its row number in the training file), the `poolSize` candidate
 * items the current policy scores highest, the positive left out. The trainer refreshes the pools every
 * few steps from scores computed without gradients (model.score over the example's candidates); each step
 * then draws its negatives from the pool, uniformly without replacement ("random", RoDPO's choice, which
 * keeps hard negatives but avoids always pushing on the same few) or takes the top k ("hard").
 *
 * All randomness comes from one SeededRng owned by the pool (or one the caller passes), and toJSON() /
 * fromJSON() save and restore the pools and that generator exactly, so a resumed run samples the same.
 */
import { SeededRng, type SeededRngState } from "../rng";

export type PoolSelection = "random" | "hard";

export interface NegativePoolOptions {
  /** Items kept per example, an integer >= 1. */
  poolSize: number;
  /** How sample() picks from a pool: uniformly without replacement ("random", default) or the top k ("hard"). */
  selection?: PoolSelection;
  /** Seed of the pool's own generator. Default 0. */
  seed?: number;
}

/** One refresh: N examples, the candidates of example i are candidateItems[candidateOffsets[i] .. [i + 1]). */
export interface PoolUpdate {
  /** [N] example ids (row numbers), e.g. PreferenceBatch.rows. */
  rows: ArrayLike<number>;
  /** [N] each example's positive item, never pooled, e.g. PreferenceBatch.chosenItem. */
  positives: ArrayLike<number>;
  /** [N + 1] offsets into candidateItems / scores, e.g. PreferenceBatch.candidateOffsets. */
  candidateOffsets: ArrayLike<number>;
  /** Candidate item ids, e.g. PreferenceBatch.candidateItems. */
  candidateItems: ArrayLike<number>;
  /** One score per candidate (higher = the policy finds it likelier), finite. */
  scores: ArrayLike<number>;
}

/** Candidates to draw from for an example the pool has not scored yet. */
export interface PoolFallback {
  candidates: ArrayLike<number>;
  /** Left out of the draw. */
  positive: number;
}

export interface NegativePoolState {
  version: 1;
  poolSize: number;
  selection: PoolSelection;
  rng: SeededRngState;
  /** [row, items best first] sorted by row. */
  pools: Array<[number, number[]]>;
}

function requireInteger(value: unknown, what: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function requireSelection(value: unknown, what: string): PoolSelection {
  if (value !== "random" && value !== "hard") throw new RangeError(`${what} must be "random" or "hard", got ${JSON.stringify(value)}`);
  return value;
}

export class NegativePool {
  readonly poolSize: number;
  readonly selection: PoolSelection;
  /** The generator sample() uses unless given another. */
  readonly rng: SeededRng;
  private readonly pools = new Map<number, Int32Array>();

  constructor(options: NegativePoolOptions, rng?: SeededRng) {
    if (typeof options !== "object" || options === null) throw new TypeError("NegativePool options must be an object");
    this.poolSize = requireInteger(options.poolSize, "options.poolSize", 1);
    this.selection = requireSelection(options.selection ?? "random", "options.selection");
    this.rng = rng ?? new SeededRng(options.seed ?? 0);
  }

  /** Examples with a pool. */
  get size(): number {
    return this.pools.size;
  }

  has(row: number): boolean {
    return this.pools.has(row);
  }

  /** The pooled items of an example, best first (a copy), or undefined if not scored yet. */
  poolOf(row: number): Int32Array | undefined {
    const pool = this.pools.get(row);
    return pool ? pool.slice() : undefined;
  }

  /**
   * Replaces the pools of the given examples with their top-poolSize candidates by score. The positive
   * and repeated items are left out (a repeated item counts with its best score); ties go to the smaller
   * item id, so the result does not depend on candidate order.
   */
  refresh(update: PoolUpdate): void {
    const { rows, positives, candidateOffsets, candidateItems, scores } = update;
    const n = rows.length;
    if (positives.length !== n) throw new RangeError(`refresh: positives must have length N = ${n} (one per row), got ${positives.length}`);
    if (candidateOffsets.length !== n + 1) throw new RangeError(`refresh: candidateOffsets must have length N + 1 = ${n + 1}, got ${candidateOffsets.length}`);
    if (scores.length !== candidateItems.length) {
      throw new RangeError(`refresh: scores must have one value per candidate (${candidateItems.length}), got ${scores.length}`);
    }
    const fresh: Array<[number, Int32Array]> = [];
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      requireInteger(row, `refresh: rows[${i}]`, 0);
      const begin = candidateOffsets[i];
      const end = candidateOffsets[i + 1];
      if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin || end > candidateItems.length) {
        throw new RangeError(`refresh: candidateOffsets[${i}..${i + 1}] = ${begin}..${end} is not a range of the ${candidateItems.length} candidates`);
      }
      const best = new Map<number, number>();
      for (let c = begin; c < end; c++) {
        const item = candidateItems[c];
        const score = scores[c];
        if (!Number.isFinite(score)) throw new RangeError(`refresh: scores[${c}] (row ${row}, item ${item}) is ${score}; scores must be finite`);
        if (item === positives[i]) continue;
        const previous = best.get(item);
        if (previous === undefined || score > previous) best.set(item, score);
      }
      const ranked = [...best].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
      fresh.push([row, Int32Array.from(ranked.slice(0, this.poolSize), ([item]) => item)]);
    }
    // Every argument checked before any pool changes: a bad update leaves the pools as they were.
    for (const [row, pool] of fresh) this.pools.set(row, pool);
  }

  /**
   * k negatives for an example: "random" draws uniformly without replacement from its pool, "hard" takes
   * the top k. A pool smaller than k gives all it has (the loss masks the rest). An example not scored
   * yet draws k uniformly from `fallback.candidates` (positive and repeats left out); without a fallback
   * that is an error. `rng` replaces the pool's own generator for this call.
   */
  sample(row: number, k: number, options: { fallback?: PoolFallback; rng?: SeededRng } = {}): Int32Array {
    requireInteger(k, "sample: k", 0);
    const rng = options.rng ?? this.rng;
    const pool = this.pools.get(row);
    if (pool) {
      if (this.selection === "hard") return pool.slice(0, k);
      return Int32Array.from(rng.choose(pool.length, k), (i) => pool[i]);
    }
    const fallback = options.fallback;
    if (!fallback) {
      throw new RangeError(`sample: example row ${row} has no pool yet (refresh it first) and no fallback candidates were given`);
    }
    const distinct = [...new Set(Array.from(fallback.candidates))].filter((item) => item !== fallback.positive);
    return Int32Array.from(rng.choose(distinct.length, k), (i) => distinct[i]);
  }

  toJSON(): NegativePoolState {
    const pools = [...this.pools].sort((x, y) => x[0] - y[0]).map(([row, items]): [number, number[]] => [row, Array.from(items)]);
    return { version: 1, poolSize: this.poolSize, selection: this.selection, rng: this.rng.toJSON(), pools };
  }

  static fromJSON(state: NegativePoolState): NegativePool {
    if (typeof state !== "object" || state === null) throw new TypeError("NegativePool.fromJSON: expected the object toJSON() wrote");
    if (state.version !== 1) throw new RangeError(`NegativePool.fromJSON: unknown version ${String(state.version)} (this build reads 1)`);
    const pool = new NegativePool({ poolSize: state.poolSize, selection: state.selection }, SeededRng.fromJSON(state.rng));
    if (!Array.isArray(state.pools)) throw new TypeError("NegativePool.fromJSON: pools must be an array of [row, items]");
    for (const entry of state.pools) {
      if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1])) {
        throw new TypeError("NegativePool.fromJSON: each pools entry must be [row, items[]]");
      }
      const [row, items] = entry;
      requireInteger(row, "NegativePool.fromJSON: a pool's row", 0);
      if (items.length > pool.poolSize) throw new RangeError(`NegativePool.fromJSON: row ${row} holds ${items.length} items, more than poolSize ${pool.poolSize}`);
      items.forEach((item, i) => {
        if (!Number.isInteger(item)) throw new TypeError(`NegativePool.fromJSON: row ${row} item ${i} is not an integer`);
      });
      if (pool.pools.has(row)) throw new RangeError(`NegativePool.fromJSON: row ${row} appears twice`);
      pool.pools.set(row, Int32Array.from(items));
    }
    return pool;
  }
}
