/**
 * The native training step on CUDA against the same step on CPU (tiny float64 model, equal weights): with the
 * ops' input checks read once per step on CUDA, losses and gradient norms still match, for every loss kind.
 * Reported as skipped where no CUDA device is present.
 */
import { createModel } from "../../src/model/checkpoint";
import { native, type NativeTrainerOptions, type TrainBatchInput } from "../../src/native";
import { packTrainBatch, tinyConfig, tinyModel } from "./fixtures";

const describeCuda = native().buildInfo().cudaAvailable ? describe : describe.skip;

function makeBatch(K: number): TrainBatchInput {
  return packTrainBatch(
    [0, 1, 2].map((e) => ({
      prompt: [1 + e, 2],
      chosen: [20 + e, 63],
      rejected: Array.from({ length: K }, (_, k) => [30 + ((e + k) % 20), 63]),
    }))
  );
}

function equalModels() {
  const cpu = tinyModel();
  const cuda = createModel(tinyConfig, { dtype: "float64", seed: 7, device: "cuda" });
  for (const p of cpu.native.parameterInfo()) {
    const t = cpu.native.getTensor(p.name);
    cuda.native.setTensor(p.name, t.dtype, t.shape, t.data);
  }
  return { cpu, cuda };
}

describeCuda("native Trainer step on CUDA", () => {
  for (const loss of ["sft", "dpo", "sdpo", "napo"] as const) {
    test(`${loss}: two steps match the CPU`, async () => {
      const { cpu, cuda } = equalModels();
      const options: NativeTrainerOptions = { loss, referenceMode: "frozen-copy", maxGradNorm: 1 };
      const trainers = [new (native().Trainer)(cpu.native, options), new (native().Trainer)(cuda.native, options)];
      const batch = makeBatch(loss === "dpo" ? 1 : 3);
      for (let step = 0; step < 2; step++) {
        const [onCpu, onCuda] = await Promise.all(trainers.map((t) => t.step(batch, { learningRate: 1e-2, optimizerStep: true, weight: 1 })));
        expect(Number.isFinite(onCuda.loss)).toBe(true);
        expect(onCuda.loss).toBeCloseTo(onCpu.loss, 9);
        expect(onCuda.gradNorm).toBeCloseTo(onCpu.gradNorm, 9);
      }
      for (const t of trainers) t.dispose();
    });
  }
});
