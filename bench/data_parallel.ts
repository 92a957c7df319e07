/**
 * The cost of data parallelism on this machine: 2 ranks (Gloo over loopback, `sdpo train --nproc`'s
 * spawner) x batch B against 1 process x batch 2B, S-DPO on the shipped LastFM data, full fine-tuning and
 * LoRA. Prints ms per step, the part of it spent in collectives (the step event's syncSeconds: gradient
 * buckets, loss weights and metrics, waits for the slower rank included) and the gradient bytes summed per step.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/data_parallel.js
 *     [--preset tiny|small (default small)] [--batch-size B per rank (default 4)] [--steps 12] [--warmup 2]
 *     [--threads T torch intra-op threads per process (default 1)]; OpenBLAS gets cores / processes threads
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { firstRows, shippedLastfm } from "../src/cli/demo-data";
import { PreferenceDataset } from "../src/data/dataset";
import { Tokenizer } from "../src/data/tokenizer";
import { spawnLocalRanks } from "../src/distributed/spawn_local";
import { createModel } from "../src/model/checkpoint";
import { presetConfig } from "../src/model/config";
import { Model } from "../src/model/model";
import { native } from "../src/native";
import { createTrainer } from "../src/trainers/registry";

interface Job {
  preset: "tiny" | "small";
  batchSize: number;
  steps: number;
  warmup: number;
  threads: number;
  lora: boolean;
  out: string;
}

interface Measure {
  ranks: number;
  msPerStep: number;
  syncMsPerStep: number;
  trainable: number;
  gradientBytes: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One process of a measured run (a rank, or the process alone); rank 0 / alone writes the figures. */
async function measure(job: Job): Promise<void> {
  native().setNumThreads(job.threads);
  const data = shippedLastfm();
  const vocab = Tokenizer.fromFile(data.tokenizer).vocabSize;
  const loaded = createModel(presetConfig(job.preset, vocab), { dtype: "float32", seed: 42, lora: job.lora ? { rank: 8, dropout: 0 } : undefined });
  const model = new Model(loaded.native);
  const ranks = Number(process.env.WORLD_SIZE ?? "1");
  const trainer = createTrainer("sdpo", { model, batchSize: job.batchSize, negatives: 3, learningRate: 1e-4, distributed: { backend: "gloo" } });
  const stepMs: number[] = [];
  const syncMs: number[] = [];
  let last = process.hrtime.bigint();
  trainer.on("step", (e) => {
    const now = process.hrtime.bigint();
    if (e.step > job.warmup) {
      stepMs.push(Number(now - last) / 1e6);
      syncMs.push(e.syncSeconds * 1000);
    }
    last = now;
  });
  const rows = (job.steps + job.warmup) * job.batchSize * ranks;
  await trainer.fit(await firstRows(PreferenceDataset.fromArrow(data.train), rows));
  const trainable = model.native.parameterInfo().filter((p) => p.trainable);
  const numel = trainable.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  if ((process.env.RANK ?? "0") === "0") {
    const m: Measure = { ranks, msPerStep: median(stepMs), syncMsPerStep: median(syncMs), trainable: numel, gradientBytes: numel * 4 };
    fs.writeFileSync(job.out, JSON.stringify(m));
  }
  await native().destroyDistributed();
}

async function main(): Promise<void> {
  if (process.env.SDPO_BENCH_JOB) return measure(JSON.parse(process.env.SDPO_BENCH_JOB) as Job);
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
  };
  const base = {
    preset: arg("preset", "small") as "tiny" | "small",
    batchSize: Number(arg("batch-size", "4")),
    steps: Number(arg("steps", "12")),
    warmup: Number(arg("warmup", "2")),
    threads: Number(arg("threads", "1")),
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-bench-dp-"));
  console.log(`S-DPO (K = 3), preset ${base.preset}, float32, ${os.cpus().length} cores split between the processes (OpenBLAS); median of ${base.steps} steps`);
  console.log("| trainable | run | ms / step | in collectives | share | gradient bytes summed / step |");
  console.log("|---|---|---|---|---|---|");
  for (const lora of [false, true]) {
    for (const ranks of [1, 2]) {
      const out = path.join(dir, `${lora}-${ranks}.json`);
      const job: Job = { ...base, batchSize: ranks === 1 ? base.batchSize * 2 : base.batchSize, lora, out };
      // The machine's cores split between the processes: OpenBLAS's pool does the matrix products.
      const blasThreads = String(Math.max(1, Math.floor(os.cpus().length / ranks)));
      const env: NodeJS.ProcessEnv = { ...process.env, SDPO_BENCH_JOB: JSON.stringify(job), OPENBLAS_NUM_THREADS: blasThreads };
      for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"]) delete env[k];
      // The single process runs without launch variables: no process group at all.
      const status = ranks === 1 ? spawnSync(process.execPath, [__filename], { env, stdio: "inherit" }).status : (await spawnLocalRanks(process.execPath, [__filename], ranks, undefined, env)).status;
      if (status !== 0) throw new Error(`the ${ranks}-process run failed`);
      const m = JSON.parse(fs.readFileSync(out, "utf8")) as Measure;
      const label = ranks === 1 ? `1 process x batch ${job.batchSize}` : `2 ranks x batch ${job.batchSize}`;
      const share = ranks === 1 ? "-" : `${((100 * m.syncMsPerStep) / m.msPerStep).toFixed(0)} %`;
      console.log(
        `| ${lora ? "LoRA r 8" : "full"}, ${(m.trainable / 1e6).toFixed(2)} M | ${label} | ${m.msPerStep.toFixed(0)} | ` +
          `${ranks === 1 ? "-" : m.syncMsPerStep.toFixed(1) + " ms"} | ${share} | ${ranks === 1 ? "-" : (m.gradientBytes / 1e6).toFixed(2) + " MB"} |`,
      );
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
