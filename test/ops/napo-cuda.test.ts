/**
 * NAPO with device "cuda": the fused CUDA kernels against the CPU reference, gradients against finite
 * differences, gamma = 0 against S-DPO, overflow. Reported as skipped where no CUDA device is present.
 */
import { native, type NapoLossInputs, type NapoMarginMode } from "../../src/native";
import { sdpoLoss } from "../../src/ops/losses";
import { napoLoss } from "../../src/ops/napo";
import { allFinite, cast, expectClose, finiteDifferences, preferenceFixture, randomArray, rng, tagOf, tolerance, type FloatCtor } from "./support";

const cudaAvailable = native().buildInfo().cudaAvailable;
const describeCuda = cudaAvailable ? describe : describe.skip;
const modes: NapoMarginMode[] = ["fixed", "dynamic"];

function napoFixture<C extends FloatCtor>(ctor: C, rows: number, negatives: number, seed: number, masked: boolean, mode: NapoMarginMode): NapoLossInputs<InstanceType<C>> {
  const fx: NapoLossInputs<InstanceType<C>> = preferenceFixture(ctor, rows, negatives, seed, masked);
  if (mode === "dynamic") {
    const random = rng(seed + 1000);
    fx.chosenConfidence = randomArray(ctor, rows, random, 3);
    fx.rejectedConfidence = randomArray(ctor, rows * negatives, random, 3);
  }
  return fx;
}

describeCuda("NAPO on CUDA", () => {
  for (const [dtype, ctor] of [
    ["float32", Float32Array],
    ["float64", Float64Array],
  ] as const) {
    const { atol, rtol } = dtype === "float32" ? { atol: 1e-5, rtol: 1e-5 } : tolerance.float64;
    for (const mode of modes) {
      for (const [negatives, masked] of [
        [1, false],
        [15, true],
        [300, true], // more negatives than threads in a block
      ] as const) {
        test(`${dtype} ${mode} K=${negatives}${masked ? " masked" : ""}: fused CUDA = CPU reference`, () => {
          const fx = napoFixture(ctor, 37, negatives, 60 + negatives, masked, mode);
          const options = { beta: 0.9, gamma: 1.1, tau: 0.7, mode, grad: true };
          const cuda = napoLoss(fx, { ...options, device: "cuda" });
          const cpu = napoLoss(fx, { ...options, implementation: "reference" });
          expect(tagOf(cuda.losses)).toBe(ctor.name);
          expectClose(cuda.losses, cpu.losses, atol, rtol);
          expectClose(cuda.margins, cpu.margins, atol, rtol);
          expectClose(cuda.grad!.policyChosen, cpu.grad!.policyChosen, atol, rtol);
          expectClose(cuda.grad!.policyRejected, cpu.grad!.policyRejected, atol, rtol);
          const cudaReference = napoLoss(fx, { ...options, device: "cuda", implementation: "reference" });
          expectClose(cudaReference.losses, cpu.losses, atol, rtol);
        });
      }
    }
  }

  test("gradients against finite differences (float64, K=15 masked, dynamic)", () => {
    const fx = napoFixture(Float64Array, 3, 15, 88, true, "dynamic");
    const options = { beta: 0.7, gamma: 1.3, tau: 0.8, mode: "dynamic" as const, device: "cuda" as const };
    const result = napoLoss(fx, { ...options, grad: true });
    const mean = () => napoLoss(fx, options).loss;
    expectClose(result.grad!.policyChosen, finiteDifferences(fx.policyChosen, mean), 1e-8, 1e-6);
    expectClose(result.grad!.policyRejected, finiteDifferences(fx.policyRejected, mean), 1e-8, 1e-6);
  });

  test("gamma = 0 equals S-DPO to 1e-12 (float64)", () => {
    for (const mode of modes) {
      const fx = napoFixture(Float64Array, 17, 7, 23, true, mode);
      const napo = napoLoss(fx, { beta: 2, gamma: 0, mode, grad: true, device: "cuda" });
      const { chosenConfidence: _c, rejectedConfidence: _r, ...sdpoInputs } = fx;
      const sdpo = sdpoLoss(sdpoInputs, { beta: 2, grad: true, device: "cuda" });
      expectClose(napo.losses, sdpo.losses, 1e-12);
      expectClose(napo.grad!.policyChosen, sdpo.grad!.policyChosen, 1e-12);
      expectClose(napo.grad!.policyRejected, sdpo.grad!.policyRejected, 1e-12);
    }
  });

  test("finite at reward gaps of 1e4", () => {
    for (const ctor of [Float32Array, Float64Array]) {
      const result = napoLoss(
        {
          policyChosen: cast(ctor, [0, 0]),
          referenceChosen: cast(ctor, [0, 0]),
          policyRejected: cast(ctor, [1e4, 1e4, -1e4, -1e4]),
          referenceRejected: cast(ctor, [0, 0, 0, 0]),
          chosenConfidence: cast(ctor, [0, 0]),
          rejectedConfidence: cast(ctor, [1e4, -1e4, 1e4, -1e4]),
        },
        { beta: 1, gamma: 2, mode: "dynamic", grad: true, device: "cuda" }
      );
      expect(allFinite(result.losses)).toBe(true);
      expect(allFinite(result.grad!.policyChosen)).toBe(true);
      expect(allFinite(result.grad!.policyRejected)).toBe(true);
      expectClose(result.losses, [1e4 + Math.log(Math.exp(2) + 1), 0], 1e-30, 5e-4);
    }
  });
});
