/** Small helpers the benchmarks share: the median of timings, and reproducible random inputs. */

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `length` floats uniform in offset +- scale / 2, from an LCG seeded by `seed` (the same inputs on every run). */
export function randomFloat32(length: number, seed: number, scale: number, offset = 0): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = offset + scale * (state / 4294967296 - 0.5);
  }
  return out;
}
