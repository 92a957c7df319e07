/**
 * The package's one source of JS-side randomness: a small seeded PRNG (mulberry32) and seed mixing. Its whole
 * state is one 32-bit integer, so a checkpoint can save it and a resumed run draws exactly the same numbers;
 * the data order, sampled negatives, conversions and bootstrap resamples all draw from it.
 */

/** Mixes integers into one 32-bit seed (murmur3 finalizer over each), so (seed, epoch, row) streams differ. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    let k = Math.imul((part | 0) ^ Math.floor(part / 2 ** 32), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface SeededRngState {
  /** The generator's 32-bit state (an unsigned integer). */
  state: number;
}

export class SeededRng {
  private current: number;

  constructor(seed = 0) {
    if (typeof seed !== "number" || !Number.isInteger(seed)) throw new TypeError(`SeededRng: seed must be an integer, got ${String(seed)}`);
    this.current = seed >>> 0;
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    let t = (this.current = (this.current + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), n a positive integer up to 2^32. */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`SeededRng.below: n must be an integer in [1, 2^32], got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates, in place; returns `items`. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** k distinct positions of [0, n), uniformly (a partial Fisher-Yates), in draw order. */
  choose(n: number, k: number): number[] {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`SeededRng.choose: k must be an integer >= 0, got ${k}`);
    const positions = Array.from({ length: n }, (_, i) => i);
    const count = Math.min(k, n);
    for (let i = 0; i < count; i++) {
      const j = i + this.below(n - i);
      const t = positions[i];
      positions[i] = positions[j];
      positions[j] = t;
    }
    return positions.slice(0, count);
  }

  toJSON(): SeededRngState {
    return { state: this.current >>> 0 };
  }

  static fromJSON(saved: SeededRngState): SeededRng {
    if (typeof saved !== "object" || saved === null) throw new TypeError("SeededRng.fromJSON: expected an object { state }");
    const { state } = saved;
    if (typeof state !== "number" || !Number.isInteger(state) || state < 0 || state > 0xffffffff) {
      throw new RangeError(`SeededRng.fromJSON: state must be an unsigned 32-bit integer, got ${String(state)}`);
    }
    const rng = new SeededRng(0);
    rng.current = state;
    return rng;
  }
}
