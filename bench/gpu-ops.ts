/**
 * Device-side op timings for issue 17 (node dist/bench/gpu-ops.js --device cuda [--n 8192 --d 896 --v 151936 --reps 5]):
 *  1. token log-probs forward + backward (grad for hidden and weight) at N x D with a V-row head, float32 tensors
 *     made on the device, synchronized around the timed calls (benchTokenLogprobs): the CPU rule's chunk
 *     (2^21 logits: 13 rows at V = 151936) against the device rule (chunkRows 0);
 *  2. DPO forward + backward through the binding (host copies included) at B rows: the DPO kernel (one thread
 *     per row) against S-DPO with K = 1 (one 32-thread block per row), the kernel DPO ran before.
 * Prints one JSON line per measurement.
 */
import { median, randomFloat32 } from "../src/bench/measure";
import { native, type OpDevice } from "../src/native";
import { dpoLoss, sdpoLoss } from "../src/ops/losses";
import { nativeTestHooks } from "../src/native/test-hooks";

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

function integerArgument(name: string, fallback: number): number {
  const value = Number(argument(name, String(fallback)));
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be an integer >= 1`);
  return value;
}

async function tokenLogprobs(device: OpDevice): Promise<void> {
  const n = integerArgument("n", 8192), d = integerArgument("d", 896), v = integerArgument("v", 151936);
  const reps = integerArgument("reps", 5);
  const cpuRuleRows = nativeTestHooks().tokenChunkRows({ device: "cpu", rows: n, vocab: v, freeBytes: 0, elementSize: 4 });
  for (const [rule, chunkRows] of [
    ["cpu rule", cpuRuleRows],
    ["device rule", 0],
  ] as const) {
    const result = await native().benchTokenLogprobs({ n, d, v, chunkRows, reps, device });
    // forward: one [rows, D] x [D, V] product; backward: the recomputed logits plus two more products.
    const flops = 4 * 2 * n * d * v;
    console.log(JSON.stringify({ op: "tokenLogprobs fwd+bwd", rule, ...result, ms: result.seconds * 1e3, tflops: flops / result.seconds / 1e12 }));
  }
}

function dpo(device: OpDevice): void {
  const rows = integerArgument("rows", 1 << 20), repeats = integerArgument("loss-repeats", 21);
  const inputs = {
    policyChosen: randomFloat32(rows, 1, 4, -20),
    policyRejected: randomFloat32(rows, 2, 4, -20),
    referenceChosen: randomFloat32(rows, 3, 4, -20),
    referenceRejected: randomFloat32(rows, 4, 4, -20),
  };
  for (const [kernel, run] of [
    ["dpo (thread per row)", () => dpoLoss(inputs, { beta: 1, grad: true, device })],
    ["sdpo K=1 (block per row)", () => sdpoLoss(inputs, { beta: 1, grad: true, device })],
  ] as const) {
    const times: number[] = [];
    for (let i = 0; i < repeats + 3; i++) {
      const start = process.hrtime.bigint();
      const result = run();
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      if (!Number.isFinite(result.loss)) throw new Error(`non-finite ${kernel} loss in the benchmark`);
      if (i >= 3) times.push(elapsed);
    }
    console.log(JSON.stringify({ op: "preference loss fwd+bwd via binding", kernel, rows, device, medianMs: median(times) }));
  }
}

async function main(): Promise<void> {
  const device = argument("device", "cpu");
  if (device !== "cpu" && device !== "cuda") throw new RangeError(`--device must be cpu or cuda, got ${device}`);
  const info = native().buildInfo();
  console.log(JSON.stringify({ torch: info.torchVersion, cudaAvailable: info.cudaAvailable, device }));
  await tokenLogprobs(device);
  dpo(device);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
