/**
 * Loss-op benchmark (npm run build:ts && npm run bench:losses):
 *  1. S-DPO forward+backward at B=1024, K=15: fused vs plain, median of repeats and their ratio;
 *  2. token log-probs forward+backward at N=4096, V=32000, D=256: peak memory of the fused chunked path
 *     vs the plain version (materialised [N, V] logits), each in a fresh child process that reads VmHWM
 *     (peak resident set) from /proc/self/status before and after the call.
 * Prints a small table, then one JSON line.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { median, randomFloat32 } from "../src/bench/measure";
import { native, type OpImplementation } from "../src/native";
import { sdpoLoss, tokenLogProbs } from "../src/ops/losses";

/** VmHWM (peak RSS) of this process in bytes. */
function peakRssBytes(): number {
  const match = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  if (!match) throw new Error("VmHWM not found in /proc/self/status (Linux only)");
  return Number(match[1]) * 1024;
}

const SDPO = { rows: 1024, negatives: 15, warmup: 5, repeats: 41 };
const TOKENS = { n: 4096, v: 32000, d: 256 };

function timeSdpo(implementation: OpImplementation): number[] {
  const { rows, negatives } = SDPO;
  const inputs = {
    policyChosen: randomFloat32(rows, 1, 4, -20),
    policyRejected: randomFloat32(rows * negatives, 2, 4, -20),
    referenceChosen: randomFloat32(rows, 3, 4, -20),
    referenceRejected: randomFloat32(rows * negatives, 4, 4, -20),
  };
  const times: number[] = [];
  for (let i = 0; i < SDPO.warmup + SDPO.repeats; i++) {
    const start = process.hrtime.bigint();
    const result = sdpoLoss(inputs, { beta: 1, grad: true, implementation });
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    if (!Number.isFinite(result.loss)) throw new Error("non-finite S-DPO loss in the benchmark");
    if (i >= SDPO.warmup) times.push(elapsed);
  }
  return times;
}

/** Child process body: one token log-probs forward+backward, peak memory around it. */
function memoryChild(implementation: OpImplementation): void {
  const { n, v, d } = TOKENS;
  const hidden = randomFloat32(n * d, 5, 2);
  const weight = randomFloat32(v * d, 6, 0.2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = (i * 7919) % v;
  native(); // load the addon (and libtorch) before the baseline
  // warm libtorch's lazy init on a one-row problem
  tokenLogProbs({ hidden: hidden.subarray(0, d), weight, labels: labels.slice(0, 1), n: 1, d, v }, { grad: true, implementation });
  const before = peakRssBytes();
  const start = process.hrtime.bigint();
  const result = tokenLogProbs({ hidden, weight, labels, n, d, v }, { grad: true, implementation });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const after = peakRssBytes();
  process.stdout.write(JSON.stringify({ implementation, before, after, seconds, sftLoss: result.sftLoss }) + "\n");
}

interface MemoryResult {
  implementation: OpImplementation;
  before: number;
  after: number;
  seconds: number;
  sftLoss: number;
}

function measureMemory(implementation: OpImplementation): MemoryResult {
  const child = spawnSync(process.execPath, [__filename, "--memory-child", implementation], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`memory child (${implementation}) failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as MemoryResult;
}

function main(): void {
  const childFlag = process.argv.indexOf("--memory-child");
  if (childFlag >= 0) {
    memoryChild(process.argv[childFlag + 1] as OpImplementation);
    return;
  }
  const info = native().buildInfo();
  const fused = median(timeSdpo("fused"));
  const plain = median(timeSdpo("plain"));
  const memFused = measureMemory("fused");
  const memPlain = measureMemory("plain");
  const mib = (bytes: number) => bytes / 2 ** 20;
  const logitsMiB = mib(TOKENS.n * TOKENS.v * 4);

  console.log(`libtorch ${info.torchVersion}, ${info.numThreads} threads, float32`);
  console.log(`S-DPO forward+backward, B=${SDPO.rows}, K=${SDPO.negatives} (median of ${SDPO.repeats}, binding overhead included)`);
  console.log(`  ${"fused".padEnd(10)} ${fused.toFixed(3).padStart(9)} ms`);
  console.log(`  ${"plain".padEnd(10)} ${plain.toFixed(3).padStart(9)} ms`);
  console.log(`  plain / fused: ${(plain / fused).toFixed(2)}x`);
  console.log(`token log-probs forward+backward, N=${TOKENS.n}, V=${TOKENS.v}, D=${TOKENS.d} (one [N, V] float32 logits tensor = ${logitsMiB.toFixed(0)} MiB)`);
  console.log(`  ${"variant".padEnd(10)} ${"peak RSS increase".padStart(18)} ${"time".padStart(9)}`);
  for (const m of [memFused, memPlain]) {
    console.log(`  ${m.implementation.padEnd(10)} ${(mib(m.after - m.before).toFixed(1) + " MiB").padStart(18)} ${(m.seconds.toFixed(2) + " s").padStart(9)}`);
  }
  console.log(`  plain / fused peak: ${((memPlain.after - memPlain.before) / Math.max(memFused.after - memFused.before, 1)).toFixed(1)}x`);
  console.log(
    JSON.stringify({
      bench: "losses",
      torch: info.torchVersion,
      threads: info.numThreads,
      sdpo: { rows: SDPO.rows, negatives: SDPO.negatives, repeats: SDPO.repeats, fusedMedianMs: fused, plainMedianMs: plain, ratio: plain / fused },
      tokenLogProbs: {
        ...TOKENS,
        fused: { peakIncreaseBytes: memFused.after - memFused.before, seconds: memFused.seconds, sftLoss: memFused.sftLoss },
        plain: { peakIncreaseBytes: memPlain.after - memPlain.before, seconds: memPlain.seconds, sftLoss: memPlain.sftLoss },
        ratio: (memPlain.after - memPlain.before) / Math.max(memFused.after - memFused.before, 1),
      },
    })
  );
}

main();
