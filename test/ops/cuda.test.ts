/**
 * The same checks with device "cuda": fused CUDA kernels against the CPU reference, gradients against
 * finite differences, K = 1 against DPO, overflow. Reported as skipped where no CUDA device is present.
 */
import { native } from "../../src/native";
import { dpoLoss, sdpoLoss, tokenLogProbs } from "../../src/ops/losses";
import { expectThrows } from "../helpers";
import { allFinite, cast, expectClose, expectCloseWhereComputed, finiteDifferences, preferenceFixture, randomArray, rng, tagOf, tolerance } from "./support";

const cudaAvailable = native().buildInfo().cudaAvailable;
const describeCuda = cudaAvailable ? describe : describe.skip;
const dtypes = [
  ["float32", Float32Array],
  ["float64", Float64Array],
] as const;

describeCuda("S-DPO and DPO on CUDA", () => {
  for (const [dtype, ctor] of dtypes) {
    const { atol, rtol } = dtype === "float32" ? { atol: 1e-5, rtol: 1e-5 } : tolerance.float64;
    for (const [negatives, masked] of [
      [1, false],
      [7, true],
      [15, false],
      [300, true], // more negatives than threads in a block: the strided loops and block reductions
    ] as const) {
      test(`sdpoLoss ${dtype} K=${negatives}${masked ? " masked" : ""}: fused CUDA = CPU reference`, () => {
        const fx = preferenceFixture(ctor, 37, negatives, 50 + negatives, masked);
        const cuda = sdpoLoss(fx, { beta: 0.9, grad: true, device: "cuda" });
        const cpu = sdpoLoss(fx, { beta: 0.9, grad: true, implementation: "reference" });
        expect(tagOf(cuda.losses)).toBe(ctor.name);
        expectClose(cuda.losses, cpu.losses, atol, rtol);
        expectClose(cuda.grad!.policyChosen, cpu.grad!.policyChosen, atol, rtol);
        expectClose(cuda.grad!.policyRejected, cpu.grad!.policyRejected, atol, rtol);
        const cudaReference = sdpoLoss(fx, { beta: 0.9, grad: true, device: "cuda", implementation: "reference" });
        expectClose(cudaReference.losses, cpu.losses, atol, rtol);
      });
    }
    test(`dpoLoss ${dtype}: fused CUDA = CPU reference`, () => {
      const fx = preferenceFixture(ctor, 33, 1, 9);
      const cuda = dpoLoss(fx, { beta: 0.4, grad: true, device: "cuda" });
      const cpu = dpoLoss(fx, { beta: 0.4, grad: true, implementation: "reference" });
      expectClose(cuda.losses, cpu.losses, atol, rtol);
      expectClose(cuda.grad!.policyChosen, cpu.grad!.policyChosen, atol, rtol);
      expectClose(cuda.grad!.policyRejected, cpu.grad!.policyRejected, atol, rtol);
    });
  }

  test("gradients against finite differences (float64, K=15 masked, and DPO)", () => {
    const fx = preferenceFixture(Float64Array, 3, 15, 77, true);
    const options = { beta: 0.7, device: "cuda" as const };
    const result = sdpoLoss(fx, { ...options, grad: true });
    const mean = () => sdpoLoss(fx, options).loss;
    expectClose(result.grad!.policyChosen, finiteDifferences(fx.policyChosen, mean), 1e-8, 1e-6);
    expectClose(result.grad!.policyRejected, finiteDifferences(fx.policyRejected, mean), 1e-8, 1e-6);
    const pair = preferenceFixture(Float64Array, 3, 1, 78);
    const dpo = dpoLoss(pair, { ...options, grad: true });
    const dpoMean = () => dpoLoss(pair, options).loss;
    expectClose(dpo.grad!.policyChosen, finiteDifferences(pair.policyChosen, dpoMean), 1e-8, 1e-6);
    expectClose(dpo.grad!.policyRejected, finiteDifferences(pair.policyRejected, dpoMean), 1e-8, 1e-6);
  });

  test("S-DPO with K = 1 equals DPO to 1e-12 (float64)", () => {
    const fx = preferenceFixture(Float64Array, 17, 1, 23);
    const sdpo = sdpoLoss(fx, { beta: 2, grad: true, device: "cuda" });
    const dpo = dpoLoss(fx, { beta: 2, grad: true, device: "cuda" });
    expectClose(sdpo.losses, dpo.losses, 1e-12);
    expectClose(sdpo.grad!.policyChosen, dpo.grad!.policyChosen, 1e-12);
    expectClose(sdpo.grad!.policyRejected, dpo.grad!.policyRejected, 1e-12);
  });

  test("finite at reward gaps of 1e4", () => {
    for (const ctor of [Float32Array, Float64Array]) {
      const result = sdpoLoss(
        { policyChosen: cast(ctor, [0, 0]), referenceChosen: cast(ctor, [0, 0]), policyRejected: cast(ctor, [1e4, 1e4, -1e4, -1e4]), referenceRejected: cast(ctor, [0, 0, 0, 0]) },
        { beta: 1, grad: true, device: "cuda" }
      );
      expect(allFinite(result.losses)).toBe(true);
      expect(allFinite(result.grad!.policyChosen)).toBe(true);
      expect(allFinite(result.grad!.policyRejected)).toBe(true);
      expectClose(result.losses, [1e4 + Math.log(2), 0], 1e-30, 5e-4);
    }
  });

  test("a mask row with no real negative is a RangeError", () => {
    const fx = preferenceFixture(Float64Array, 2, 2, 1);
    expectThrows(() => native().sdpoLoss({ ...fx, mask: Uint8Array.from([1, 0, 0, 0]) }, { beta: 1, device: "cuda" }), "RangeError", /mask row 1 has no real negative/);
  });
});

describeCuda("token log-probs on CUDA", () => {
  const N = 47, D = 31, V = 123;
  const fixture = <C extends Float32ArrayConstructor | Float64ArrayConstructor>(ctor: C, seed: number, v = V) => {
    const random = rng(seed);
    const labels = new Int32Array(N);
    for (let i = 0; i < N; i++) labels[i] = i % 5 === 3 ? -100 : Math.floor(random() * v);
    return { hidden: randomArray(ctor, N * D, random), weight: randomArray(ctor, v * D, random, 0.5), labels, n: N, d: D, v };
  };

  for (const [dtype, ctor] of dtypes) {
    for (const [chunkRows, vocab] of [
      [0, V],
      [10, V],
      [8, 1000], // vocabulary wider than a block
    ] as const) {
      test(`${dtype}, chunkRows ${chunkRows}, V=${vocab}: fused CUDA = CPU reference`, () => {
        const { atol, rtol } = dtype === "float32" ? { atol: 5e-5, rtol: 5e-5 } : tolerance.float64;
        const fx = fixture(ctor, 5 + chunkRows, vocab);
        const cuda = tokenLogProbs(fx, { grad: true, chunkRows, device: "cuda" });
        const cpu = tokenLogProbs(fx, { grad: true, implementation: "reference" });
        expectClose(cuda.logps, cpu.logps, atol, rtol);
        expectClose(cuda.grad!.hidden, cpu.grad!.hidden, atol, rtol);
        expectClose(cuda.grad!.weight, cpu.grad!.weight, atol, rtol);
      });
    }
  }

  test("gradients against finite differences (float64, chunked, ignored labels)", () => {
    const fx = fixture(Float64Array, 42);
    const options = { chunkRows: 10, device: "cuda" as const };
    const result = tokenLogProbs(fx, { ...options, grad: true });
    const sft = () => tokenLogProbs(fx, options).sftLoss;
    const every = (length: number, stride: number) => Array.from({ length: Math.ceil(length / stride) }, (_, i) => i * stride);
    expectCloseWhereComputed(result.grad!.hidden, finiteDifferences(fx.hidden, sft, 1e-6, every(N * D, 11)), 1e-8, 1e-6);
    expectCloseWhereComputed(result.grad!.weight, finiteDifferences(fx.weight, sft, 1e-6, every(V * D, 23)), 1e-8, 1e-6);
    for (let k = 0; k < D; k++) expect(result.grad!.hidden[3 * D + k]).toBe(0); // row 3 is ignored
  });

  test("labels out of range are a RangeError naming the row", () => {
    const fx = fixture(Float32Array, 1);
    fx.labels[5] = V;
    expectThrows(() => native().tokenLogProbs(fx, { device: "cuda" }), "RangeError", new RegExp(`labels\\[5\\] = ${V} is outside`));
  });
});
