/**
 * A small seeded PRNG (mulberry32) whose whole state is one 32-bit integer, so a checkpoint can save it
 * and a resumed run draws exactly the same numbers. The negative samplers' only source of randomness.
 */
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

  /** Uniform integer in [0, n), n a positive integer below 2^32. */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`SeededRng.below: n must be an integer in [1, 2^32], got ${n}`);
    return Math.floor(this.next() * n);
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
