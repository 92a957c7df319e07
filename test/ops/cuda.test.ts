/**
 * The same checks with device "cuda", for every softmax loss (S-DPO, NAPO fixed and dynamic: one kernel pair)
 * and DPO: fused CUDA kernels against the plain CPU version, gradients against finite differences, K = 1 against
 * DPO, gamma = 0 against S-DPO, overflow. Reported as skipped where no CUDA device is present.
 */
import { native } from "../../src/native";
import { dpoLoss, sdpoLoss, tokenLogProbs } from "../../src/ops/losses";
import { expectThrows } from "../helpers";
import { softmaxLosses, withoutConfidences } from "./softmax-loss-cases";
import { allFinite, cast, expectClose, expectCloseWhereComputed, finiteDifferences, preferenceFixture, randomArray, rng, tagOf, tolerance } from "./support";

const cudaAvailable = native().buildInfo().cudaAvailable;
const describeCuda = cudaAvailable ? describe : describe.skip;
const dtypes = [
  ["float32", Float32Array],
  ["float64", Float64Array],
] as const;

describeCuda("S-DPO, NAPO and DPO on CUDA", () => {
  for (const [dtype, ctor] of dtypes) {
    const { atol, rtol } = dtype === "float32" ? { atol: 1e-5, rtol: 1e-5 } : tolerance.float64;
    for (const loss of softmaxLosses) {
      for (const [negatives, masked] of [
        [1, false],
        [7, true],
        [15, false],
        [300, true], // more negatives than threads in a block: the strided loops and block reductions
      ] as const) {
        test(`${loss.name} ${dtype} K=${negatives}${masked ? " masked" : ""}: fused CUDA = CPU plain`, () => {
          const fx = loss.fixture(ctor, 37, negatives, 50 + negatives, masked);
          const cuda = loss.run(fx, { beta: 0.9, grad: true, device: "cuda" });
          const cpu = loss.run(fx, { beta: 0.9, grad: true, implementation: "plain" });
          expect(tagOf(cuda.losses)).toBe(ctor.name);
          expectClose(cuda.losses, cpu.losses, atol, rtol);
          if (loss.margin) expectClose(cuda.margins!, cpu.margins!, atol, rtol);
          expectClose(cuda.grad!.policyChosen, cpu.grad!.policyChosen, atol, rtol);
          expectClose(cuda.grad!.policyRejected, cpu.grad!.policyRejected, atol, rtol);
          const cudaPlain = loss.run(fx, { beta: 0.9, grad: true, device: "cuda", implementation: "plain" });
          expectClose(cudaPlain.losses, cpu.losses, atol, rtol);
        });
      }
    }
    test(`dpoLoss ${dtype}: fused CUDA = CPU plain`, () => {
      const fx = preferenceFixture(ctor, 33, 1, 9);
      const cuda = dpoLoss(fx, { beta: 0.4, grad: true, device: "cuda" });
      const cpu = dpoLoss(fx, { beta: 0.4, grad: true, implementation: "plain" });
      expectClose(cuda.losses, cpu.losses, atol, rtol);
      expectClose(cuda.grad!.policyChosen, cpu.grad!.policyChosen, atol, rtol);
      expectClose(cuda.grad!.policyRejected, cpu.grad!.policyRejected, atol, rtol);
    });
  }

  for (const loss of softmaxLosses) {
    test(`${loss.name}: gradients against finite differences (float64, K=15 masked)`, () => {
      const fx = loss.fixture(Float64Array, 3, 15, 77, true);
      const options = { beta: 0.7, device: "cuda" as const };
      const result = loss.run(fx, { ...options, grad: true });
      const mean = () => loss.run(fx, options).loss;
      expectClose(result.grad!.policyChosen, finiteDifferences(fx.policyChosen, mean), 1e-8, 1e-6);
      expectClose(result.grad!.policyRejected, finiteDifferences(fx.policyRejected, mean), 1e-8, 1e-6);
    });
  }

  test("DPO gradients against finite differences (float64)", () => {
    const options = { beta: 0.7, device: "cuda" as const };
    const pair = preferenceFixture(Float64Array, 3, 1, 78);
    const dpo = dpoLoss(pair, { ...options, grad: true });
    const dpoMean = () => dpoLoss(pair, options).loss;
    expectClose(dpo.grad!.policyChosen, finiteDifferences(pair.policyChosen, dpoMean), 1e-8, 1e-6);
    expectClose(dpo.grad!.policyRejected, finiteDifferences(pair.policyRejected, dpoMean), 1e-8, 1e-6);
  });

  for (const loss of softmaxLosses) {
    test(`${loss.name}${loss.margin ? " with gamma = 0" : ""}, K = 1, equals DPO to 1e-12 (float64)`, () => {
      const fx = loss.fixture(Float64Array, 17, 1, 23);
      const softmax = loss.run(fx, { beta: 2, gamma: 0, grad: true, device: "cuda" });
      const dpo = dpoLoss(withoutConfidences(fx), { beta: 2, grad: true, device: "cuda" });
      expectClose(softmax.losses, dpo.losses, 1e-12);
      expectClose(softmax.grad!.policyChosen, dpo.grad!.policyChosen, 1e-12);
      expectClose(softmax.grad!.policyRejected, dpo.grad!.policyRejected, 1e-12);
    });
  }

  for (const loss of softmaxLosses.filter((l) => l.margin)) {
    test(`${loss.name} with gamma = 0 equals S-DPO to 1e-12 (float64, K=7 masked)`, () => {
      const fx = loss.fixture(Float64Array, 17, 7, 23, true);
      const napo = loss.run(fx, { beta: 2, gamma: 0, grad: true, device: "cuda" });
      const sdpo = sdpoLoss(withoutConfidences(fx), { beta: 2, grad: true, device: "cuda" });
      expectClose(napo.losses, sdpo.losses, 1e-12);
      expectClose(napo.grad!.policyChosen, sdpo.grad!.policyChosen, 1e-12);
      expectClose(napo.grad!.policyRejected, sdpo.grad!.policyRejected, 1e-12);
    });
  }

  for (const loss of softmaxLosses) {
    test(`${loss.name}: finite at reward gaps of 1e4`, () => {
      for (const ctor of [Float32Array, Float64Array]) {
        const inputs = {
          policyChosen: cast(ctor, [0, 0]),
          referenceChosen: cast(ctor, [0, 0]),
          policyRejected: cast(ctor, [1e4, 1e4, -1e4, -1e4]),
          referenceRejected: cast(ctor, [0, 0, 0, 0]),
          // With gamma 2 and tau 1 the dynamic margins of each row are [2, 0].
          ...(loss.margin?.mode === "dynamic" ? { chosenConfidence: cast(ctor, [0, 0]), rejectedConfidence: cast(ctor, [1e4, -1e4, 1e4, -1e4]) } : {}),
        };
        const result = loss.run(inputs, { beta: 1, gamma: 2, grad: true, device: "cuda" });
        expect(allFinite(result.losses)).toBe(true);
        expect(allFinite(result.grad!.policyChosen)).toBe(true);
        expect(allFinite(result.grad!.policyRejected)).toBe(true);
        const row0 = { sdpo: Math.log(2), "napo fixed": 2 + Math.log(2), "napo dynamic": Math.log(Math.exp(2) + 1) }[loss.name]!;
        expectClose(result.losses, [1e4 + row0, 0], 1e-30, 5e-4);
      }
    });
  }

  test("a mask row with no real negative is a RangeError", () => {
    const fx = preferenceFixture(Float64Array, 2, 2, 1);
    expectThrows(() => native().sdpoLoss({ ...fx, mask: Uint8Array.from([1, 0, 0, 0]) }, { beta: 1, device: "cuda" }), "RangeError", /mask row 1 has no real negative/);
    // The check is read after the kernels (one sync per call): with a backward too, and for NAPO, and the
    // device still works afterwards.
    const mask = Uint8Array.from([0, 0, 1, 1]);
    expectThrows(() => native().sdpoLoss({ ...fx, mask }, { beta: 1, grad: true, device: "cuda" }), "RangeError", /mask row 0 has no real negative/);
    expectThrows(() => native().napoLoss({ ...fx, mask }, { beta: 1, gamma: 0.5, grad: true, device: "cuda" }), "RangeError", /mask row 0 has no real negative/);
    expect(allFinite(sdpoLoss(fx, { beta: 1, grad: true, device: "cuda" }).losses)).toBe(true);
  });

  test("DPO at reward gaps of +-inf matches the CPU (inf / 0 and their gradients, no NaN)", () => {
    // Finite float32 inputs whose reward difference overflows: gap = +inf in row 0, -inf in row 1.
    const pair = {
      policyChosen: Float32Array.from([0, 0, -1]),
      referenceChosen: Float32Array.from([0, 0, -2]),
      policyRejected: Float32Array.from([3e38, -3e38, -3]),
      referenceRejected: Float32Array.from([-3e38, 3e38, -1]),
    };
    const cuda = dpoLoss(pair, { beta: 1, grad: true, device: "cuda" });
    const cpu = dpoLoss(pair, { beta: 1, grad: true });
    const infiniteRows = (a: Float32Array | Float64Array) => Array.from(a).slice(0, 2);
    const finiteRow = (a: Float32Array | Float64Array) => a.subarray(2);
    expect(infiniteRows(cpu.losses)).toEqual([Infinity, 0]);
    expect(infiniteRows(cpu.grad!.policyRejected)).toEqual([1 / 3, 0].map(Math.fround)); // the mean's 1/3 x sigmoid(+-inf)
    for (const pick of [(r: typeof cpu) => r.losses, (r: typeof cpu) => r.grad!.policyChosen, (r: typeof cpu) => r.grad!.policyRejected]) {
      expect(infiniteRows(pick(cuda))).toEqual(infiniteRows(pick(cpu)));
      expectClose(finiteRow(pick(cuda)), finiteRow(pick(cpu)), 1e-6, 1e-6);
    }
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
      test(`${dtype}, chunkRows ${chunkRows}, V=${vocab}: fused CUDA = CPU plain`, () => {
        const { atol, rtol } = dtype === "float32" ? { atol: 5e-5, rtol: 5e-5 } : tolerance.float64;
        const fx = fixture(ctor, 5 + chunkRows, vocab);
        const cuda = tokenLogProbs(fx, { grad: true, chunkRows, device: "cuda" });
        const cpu = tokenLogProbs(fx, { grad: true, implementation: "plain" });
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

  test("an out-of-range label is reported after the kernels ran, which never index with it", () => {
    const fx = fixture(Float32Array, 2);
    fx.labels[7] = -5;
    fx.labels[30] = V + 1000;
    for (const implementation of ["fused", "plain"] as const) {
      for (const chunkRows of [0, 10]) {
        expectThrows(() => native().tokenLogProbs(fx, { device: "cuda", grad: true, implementation, chunkRows }), "RangeError", /labels\[7\] = -5 is outside/);
      }
    }
    // No device-side assert or stray write: the device still gives the CPU's answer.
    fx.labels[7] = 1;
    fx.labels[30] = 2;
    const cuda = tokenLogProbs(fx, { grad: true, device: "cuda" });
    const cpu = tokenLogProbs(fx, { grad: true });
    expectClose(cuda.logps, cpu.logps, 5e-5, 5e-5);
  });
});
