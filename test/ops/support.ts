/** Shared fixtures for the loss-op tests: seeded data and central finite differences. */
import type { FloatArray } from "../../src/native";
import { SeededRng } from "../../src/rng";

/** Seeded uniform numbers in [0, 1) (the package's mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  const generator = new SeededRng(seed);
  return () => generator.next();
}

export type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;

export function randomArray<C extends FloatCtor>(ctor: C, length: number, random: () => number, scale = 1): InstanceType<C> {
  const out = new ctor(length) as InstanceType<C>;
  for (let i = 0; i < length; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

export interface PreferenceFixture<T extends FloatArray> {
  policyChosen: T;
  policyRejected: T;
  referenceChosen: T;
  referenceRejected: T;
  mask?: Uint8Array;
}

/** B rows of K negatives of log-probs around -5; `masked`: about a third of the negatives padded out (never a whole row). */
export function preferenceFixture<C extends FloatCtor>(ctor: C, rows: number, negatives: number, seed: number, masked = false): PreferenceFixture<InstanceType<C>> {
  const random = rng(seed);
  const logps = (length: number) => {
    const a = randomArray(ctor, length, random, 2);
    for (let i = 0; i < length; i++) a[i] -= 5;
    return a;
  };
  const fixture: PreferenceFixture<InstanceType<C>> = {
    policyChosen: logps(rows),
    policyRejected: logps(rows * negatives),
    referenceChosen: logps(rows),
    referenceRejected: logps(rows * negatives),
  };
  if (masked) {
    const mask = new Uint8Array(rows * negatives);
    for (let b = 0; b < rows; b++) {
      for (let j = 0; j < negatives; j++) mask[b * negatives + j] = j === b % negatives || random() > 0.35 ? 1 : 0;
    }
    fixture.mask = mask;
  }
  return fixture;
}

export function cast<C extends FloatCtor>(ctor: C, a: ArrayLike<number>): InstanceType<C> {
  return ctor.from(a) as InstanceType<C>;
}

/**
 * Central finite differences of `f` w.r.t. entries of `x` (mutated in place, then restored):
 * (f(x + h e_i) - f(x - h e_i)) / 2h, for every i, or only for `indices` (other entries stay NaN).
 */
export function finiteDifferences(x: Float64Array, f: () => number, h = 1e-6, indices?: number[]): Float64Array {
  const out = new Float64Array(x.length).fill(NaN);
  for (const i of indices ?? x.keys()) {
    const saved = x[i];
    x[i] = saved + h;
    const plus = f();
    x[i] = saved - h;
    const minus = f();
    x[i] = saved;
    out[i] = (plus - minus) / (2 * h);
  }
  return out;
}

/** Largest |a - b| / (atol + rtol * |b|); <= 1 means close. */
export function closeness(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const ratio = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    worst = Number.isNaN(ratio) ? Infinity : Math.max(worst, ratio);
  }
  return worst;
}

export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol = 0): void {
  expect(closeness(a, b, atol, rtol)).toBeLessThanOrEqual(1);
}

export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** Per-dtype tolerances for fused vs plain. */
export const tolerance = {
  float32: { atol: 2e-6, rtol: 2e-5 },
  float64: { atol: 1e-12, rtol: 1e-11 },
};

/** Typed-array kind by tag: arrays made natively come from Node's main realm, so instanceof fails under jest. */
export function tagOf(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

/** Compares `actual` with finite differences only where `numeric` was computed (not NaN). */
export function expectCloseWhereComputed(actual: ArrayLike<number>, numeric: Float64Array, atol: number, rtol: number): void {
  const picked: number[] = [];
  const expected: number[] = [];
  numeric.forEach((value, i) => {
    if (!Number.isNaN(value)) {
      picked.push(actual[i]);
      expected.push(value);
    }
  });
  expect(expected.length).toBeGreaterThan(0);
  expectClose(picked, expected, atol, rtol);
}
