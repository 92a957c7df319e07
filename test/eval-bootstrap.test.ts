/**
 * The bootstrap on cases with known answers: constant rows give a zero-width interval at the constant, a
 * 0/1 vector's interval covers its mean and matches the normal approximation's width (which shrinks as
 * 1/sqrt(n)), paired identical systems differ by exactly 0, and a seed fixes every number.
 */
import { bootstrapMean, bootstrapMeans, pairedBootstrap, quantileOfSorted } from "../src/eval/bootstrap";
import { pairedMetricBootstrap, perRowValues, summarizeOutcomes } from "../src/eval/outcomes";

/** A 0/1 vector of n rows with exactly round(p n) ones, spread evenly. */
function zeroOne(n: number, p: number): number[] {
  const ones = Math.round(p * n);
  return Array.from({ length: n }, (_, i) => (Math.floor(((i + 1) * ones) / n) > Math.floor((i * ones) / n) ? 1 : 0));
}

test("constant rows: interval [c, c]", () => {
  expect(bootstrapMean(new Array(50).fill(1))).toEqual({ mean: 1, interval: [1, 1] });
  expect(bootstrapMean([0, 0, 0]).interval).toEqual([0, 0]);
  expect(bootstrapMean([0.25]).interval).toEqual([0.25, 0.25]);
});

test("a 0/1 vector: the interval covers the mean and its width is the normal approximation's, shrinking as 1/sqrt(n)", () => {
  const widths: number[] = [];
  for (const n of [100, 400, 1600]) {
    const values = zeroOne(n, 0.3);
    expect(values.reduce((s, v) => s + v, 0)).toBe(0.3 * n);
    const { mean, interval } = bootstrapMean(values, { seed: 11 });
    expect(mean).toBeCloseTo(0.3, 12);
    expect(interval[0]).toBeLessThan(0.3);
    expect(interval[1]).toBeGreaterThan(0.3);
    const width = interval[1] - interval[0];
    const normalWidth = 2 * 1.959964 * Math.sqrt((0.3 * 0.7) / n);
    expect(width / normalWidth).toBeGreaterThan(0.85);
    expect(width / normalWidth).toBeLessThan(1.15);
    widths.push(width);
  }
  // Four times the rows, half the width.
  expect(widths[0] / widths[1]).toBeGreaterThan(1.7);
  expect(widths[0] / widths[1]).toBeLessThan(2.3);
  expect(widths[1] / widths[2]).toBeGreaterThan(1.7);
  expect(widths[1] / widths[2]).toBeLessThan(2.3);
});

test("a higher confidence gives a wider interval", () => {
  const values = zeroOne(200, 0.4);
  const i90 = bootstrapMean(values, { confidence: 0.9 }).interval;
  const i99 = bootstrapMean(values, { confidence: 0.99 }).interval;
  expect(i99[0]).toBeLessThan(i90[0]);
  expect(i99[1]).toBeGreaterThan(i90[1]);
});

test("deterministic for a seed, different across seeds; columns together equal columns alone", () => {
  const values = zeroOne(150, 0.2);
  const other = values.map((v, i) => (i % 3 === 0 ? 1 - v : v));
  expect(bootstrapMean(values, { seed: 5 })).toEqual(bootstrapMean(values, { seed: 5 }));
  // Continuous values, so that two seeds' quantiles cannot land on the same grid point of k / n.
  const spread = values.map((v, i) => v + Math.sin(i) / 10);
  expect(bootstrapMean(spread, { seed: 5 }).interval).not.toEqual(bootstrapMean(spread, { seed: 6 }).interval);
  const together = bootstrapMeans({ values, other }, { seed: 5 });
  expect(together.values).toEqual(bootstrapMean(values, { seed: 5 }));
  expect(together.other).toEqual(bootstrapMean(other, { seed: 5 }));
});

test("paired: identical systems differ by 0 with probability 0; a system better on every row has probability 1", () => {
  const a = zeroOne(120, 0.35);
  const same = pairedBootstrap(a, [...a]);
  expect(same).toEqual({ meanDiff: 0, interval: [0, 0], probabilityPositive: 0 });

  const better = a.map((v) => v + 0.1);
  const ahead = pairedBootstrap(better, a, { seed: 3 });
  expect(ahead.meanDiff).toBeCloseTo(0.1, 12);
  expect(ahead.interval[0]).toBeCloseTo(0.1, 12);
  expect(ahead.interval[1]).toBeCloseTo(0.1, 12);
  expect(ahead.probabilityPositive).toBe(1);
  expect(pairedBootstrap(a, better).probabilityPositive).toBe(0);
});

test("paired: pairing removes the rows' shared variation that an unpaired comparison would keep", () => {
  // b = a except 6 rows of 200 where b misses and a hits: a is better by 0.03 on the same rows.
  const b = zeroOne(200, 0.5);
  const a = [...b];
  let flipped = 0;
  for (let i = 0; i < a.length && flipped < 6; i++) if (a[i] === 0) (a[i] = 1), flipped++;
  const paired = pairedBootstrap(a, b, { seed: 1 });
  expect(paired.meanDiff).toBeCloseTo(0.03, 12);
  expect(paired.interval[0]).toBeGreaterThanOrEqual(0);
  expect(paired.probabilityPositive).toBeGreaterThan(0.97);
  // Each system's own interval is far wider than the gap: only pairing shows it.
  const alone = bootstrapMean(a, { seed: 1 }).interval;
  expect(alone[1] - alone[0]).toBeGreaterThan(0.1);
});

test("type-7 quantiles", () => {
  const sorted = [1, 2, 3, 4, 5];
  expect(quantileOfSorted(sorted, 0)).toBe(1);
  expect(quantileOfSorted(sorted, 1)).toBe(5);
  expect(quantileOfSorted(sorted, 0.5)).toBe(3);
  expect(quantileOfSorted(sorted, 0.1)).toBeCloseTo(1.4, 12);
});

test("bad input is refused with a message naming it", () => {
  expect(() => bootstrapMean([])).toThrow(/no rows/);
  expect(() => bootstrapMean([1, NaN, 0])).toThrow(/values\[1\] is NaN/);
  expect(() => bootstrapMean([1], { resamples: 0 })).toThrow(/resamples must be a positive integer/);
  expect(() => bootstrapMean([1], { confidence: 1 })).toThrow(/confidence must be in \(0, 1\)/);
  expect(() => bootstrapMean([1], { seed: 0.5 })).toThrow(/seed must be an integer/);
  expect(() => pairedBootstrap([1, 0], [1])).toThrow(/same rows/);
  expect(() => bootstrapMeans({ x: [1, 0], y: [1] })).toThrow(/y has 1 rows, x has 2/);
});

describe("per-row outcomes", () => {
  const a = { rowIds: [3, 4, 5, 6], generationHit: [1, 0, 1, 1], generationValid: [1, 1, 1, 1], rank: [1, 3, 1, 7] };
  const b = { rowIds: [3, 4, 5, 6], generationHit: [0, 0, 1, 0], generationValid: [1, 0, 1, 0], rank: [2, 3, 1, 7] };

  test("per-row values of each metric, and metrics from them", () => {
    expect(perRowValues(a, "hr1")).toEqual([1, 0, 1, 1]);
    expect(perRowValues(a, "hr3")).toEqual([1, 1, 1, 0]);
    expect(perRowValues(a, "ndcg3")).toEqual([1, 0.5, 1, 0]);
    expect(perRowValues(a, "constrainedHr1")).toBeUndefined();
    const { metrics, intervals } = summarizeOutcomes(a, { seed: 2 });
    expect(metrics.hr1).toBe(0.75);
    expect(metrics.validRatio).toBe(1);
    expect(metrics.ndcg3).toBeCloseTo(0.625, 12);
    expect(Number.isNaN(metrics.constrainedHr1)).toBe(true);
    expect(intervals.validRatio).toEqual([1, 1]);
    expect(intervals.hr1).toEqual(bootstrapMean([1, 0, 1, 1], { seed: 2 }).interval);
    expect(intervals.constrainedHr1).toEqual([NaN, NaN]);
    expect(() => summarizeOutcomes({ rowIds: [1, 2], rank: [1] })).toThrow(/rank has 1 rows, rowIds has 2/);
  });

  test("paired comparison of two evaluations checks that they cover the same rows", () => {
    const hr1 = pairedMetricBootstrap(a, b, "hr1", { seed: 4 });
    expect(hr1.meanDiff).toBeCloseTo(0.5, 12);
    expect(hr1).toEqual(pairedBootstrap([1, 0, 1, 1], [0, 0, 1, 0], { seed: 4 }));
    expect(() => pairedMetricBootstrap(a, { ...b, rowIds: [3, 4, 6, 5] }, "hr1")).toThrow(/evaluated row 2 is row 5 for the first system and row 6/);
    expect(() => pairedMetricBootstrap(a, { rowIds: [3] , rank: [1] }, "hr1")).toThrow(/hr1 was not measured for the second system/);
  });
});
