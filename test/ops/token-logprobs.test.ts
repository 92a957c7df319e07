/** Token log-probs: gradients against finite differences, fused (chunked) against plain, ignore_index. */
import { tokenLogProbs } from "../../src/ops/losses";
import { expectClose, expectCloseWhereComputed, finiteDifferences, randomArray, rng, tolerance, tagOf, type FloatCtor } from "./support";

const N = 47;
const D = 31;
const V = 123;
const IGNORE = -100;

function fixture<C extends FloatCtor>(ctor: C, seed: number, n = N, d = D, v = V) {
  const random = rng(seed);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % 5 === 3 ? IGNORE : Math.floor(random() * v);
  return { hidden: randomArray(ctor, n * d, random, 1), weight: randomArray(ctor, v * d, random, 0.5), labels, n, d, v };
}

/** Every `stride`-th index below `length`, plus the D entries of each row starting at `rowStarts`. */
function stridedIndices(length: number, stride: number, rowStarts: number[]): number[] {
  const picked = new Set<number>();
  for (let i = 0; i < length; i += stride) picked.add(i);
  for (const start of rowStarts) for (let k = 0; k < D; k++) picked.add(start + k);
  return [...picked].sort((a, b) => a - b);
}

/** Plain JS log softmax(hidden @ weight^T)[i, label], an oracle independent of libtorch. */
function oracle(fx: ReturnType<typeof fixture>): number[] {
  const out: number[] = [];
  for (let i = 0; i < fx.n; i++) {
    const logits: number[] = [];
    for (let v = 0; v < fx.v; v++) {
      let dot = 0;
      for (let k = 0; k < fx.d; k++) dot += fx.hidden[i * fx.d + k] * fx.weight[v * fx.d + k];
      logits.push(dot);
    }
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
    out.push(fx.labels[i] === IGNORE ? 0 : logits[fx.labels[i]] - lse);
  }
  return out;
}

describe("tokenLogProbs gradients (float64, central finite differences)", () => {
  for (const [implementation, chunkRows] of [
    ["fused", 0],
    ["fused", 10], // 5 chunks, the last one short
    ["plain", 0],
  ] as const) {
    test(`${implementation}${chunkRows ? `, chunkRows ${chunkRows}` : ""}: N=${N}, D=${D}, V=${V} with ignored labels`, () => {
      const fx = fixture(Float64Array, 42);
      const options = { implementation, chunkRows };
      const result = tokenLogProbs(fx, { ...options, grad: true });
      const expected = oracle(fx);
      expectClose(result.logps, expected, 1e-12, 1e-12);
      const counted = fx.labels.filter((l) => l !== IGNORE).length;
      expect(result.sftLoss).toBeCloseTo(-expected.reduce((s, x) => s + x, 0) / counted, 12);
      const sft = () => tokenLogProbs(fx, options).sftLoss;
      // ~1000 of the 5270 entries keep the test at a few seconds: a stride that walks every row and
      // column of hidden and weight, plus every entry of the ignored row 3 and of row 4 (both chunk edges at 10).
      const hiddenIndices = stridedIndices(N * D, 3, [3 * D, 5 * D, 9 * D, 10 * D]);
      const weightIndices = stridedIndices(V * D, 7, [fx.labels[0] * D]);
      expectCloseWhereComputed(result.grad!.hidden, finiteDifferences(fx.hidden, sft, 1e-6, hiddenIndices), 1e-8, 1e-6);
      expectCloseWhereComputed(result.grad!.weight, finiteDifferences(fx.weight, sft, 1e-6, weightIndices), 1e-8, 1e-6);
      // Ignored rows: log-prob 0 and no gradient into their hidden states.
      for (let i = 0; i < N; i++) {
        if (fx.labels[i] !== IGNORE) continue;
        expect(result.logps[i]).toBe(0);
        for (let k = 0; k < D; k++) expect(result.grad!.hidden[i * D + k]).toBe(0);
      }
    });
  }
});

describe("tokenLogProbs fused matches plain", () => {
  for (const [dtype, ctor] of [
    ["float32", Float32Array],
    ["float64", Float64Array],
  ] as const) {
    for (const chunkRows of [0, 1, 16]) {
      test(`${dtype}, chunkRows ${chunkRows}`, () => {
        const { atol, rtol } = dtype === "float32" ? { atol: 2e-5, rtol: 2e-5 } : tolerance.float64;
        const fx = fixture(ctor, 7 + chunkRows);
        const fused = tokenLogProbs(fx, { grad: true, chunkRows });
        const plain = tokenLogProbs(fx, { grad: true, implementation: "plain" });
        expect(tagOf(fused.logps)).toBe(ctor.name);
        expect(tagOf(fused.grad!.weight)).toBe(ctor.name);
        expectClose(fused.logps, plain.logps, atol, rtol);
        expectClose([fused.sftLoss], [plain.sftLoss], atol, rtol);
        expectClose(fused.grad!.hidden, plain.grad!.hidden, atol, rtol);
        expectClose(fused.grad!.weight, plain.grad!.weight, atol, rtol);
      });
    }
  }

  test("a custom ignoreIndex, and every label ignored", () => {
    const fx = fixture(Float64Array, 3, 6, 4, 9);
    fx.labels.set([0, 8, -1, 4, -1, 2]);
    const fused = tokenLogProbs(fx, { grad: true, ignoreIndex: -1 });
    const plain = tokenLogProbs(fx, { grad: true, ignoreIndex: -1, implementation: "plain" });
    expectClose(fused.logps, plain.logps, 1e-12, 1e-12);
    expect(fused.logps[2]).toBe(0);
    fx.labels.fill(-1);
    const none = tokenLogProbs(fx, { grad: true, ignoreIndex: -1 });
    expect(none.sftLoss).toBe(0);
    expect(Array.from(none.grad!.weight).every((g) => g === 0)).toBe(true);
  });

  test("large logits stay finite (max-shifted log-sum-exp)", () => {
    const fx = fixture(Float32Array, 5, 4, 3, 5);
    fx.hidden.fill(100);
    fx.labels.set([0, 1, 2, 3]);
    const result = tokenLogProbs(fx, { grad: true });
    expect(Array.from(result.logps).every(Number.isFinite)).toBe(true);
    expect(Array.from(result.grad!.hidden).every(Number.isFinite)).toBe(true);
  });
});
