/**
 * One rank of `sdpo demo --nproc N`'s SFT stage: the demo starts N of these (spawnLocalRanks, loopback) with the
 * stage described in SDPO_DEMO_SFT_JOB. Each rank reads the same re-drawn examples, builds the same seeded model and
 * trains on its share of every global batch (the trainer's data parallelism); rank 0 writes the model folder, the
 * log and the plot. Exit status: 0 done, 130 interrupted, 1 an error (its message on stderr).
 */
import { PreferenceDataset } from "../data/dataset";
import { ResampledDataset } from "../data/resample";
import { Tokenizer } from "../data/tokenizer";
import { readLaunchEnv } from "../distributed/launch_env";
import { createModel } from "../model/checkpoint";
import type { Model } from "../model/model";
import { native, type DeviceName, type NativeModelConfig } from "../native";
import { firstRows } from "./demo-data";
import type { DemoRecipe, DemoRunOptions } from "./demo-recipe";
import { trainDemoStage } from "./demo-stage";
import { disposeModel } from "./eval-setup";

/** What the demo hands its SFT ranks (JSON in SDPO_DEMO_SFT_JOB). */
export interface DemoSftJob {
  train: string;
  valid: string;
  tokenizer: string;
  recipe: Pick<DemoRecipe, "subsequences" | "copyRows" | "skipRows" | "trainRows" | "namingRows" | "curveEvalRows">;
  /** The SFT stage and the optional naming stage, with the global batch size and the seed. */
  sft: DemoRunOptions;
  naming?: DemoRunOptions;
  shape: NativeModelConfig;
  seed: number;
  device: DeviceName;
  /** The SFT model folder, and the folder holding logs/ and plots/. */
  dir: string;
  logDir: string;
}

export const DEMO_SFT_JOB_VARIABLE = "SDPO_DEMO_SFT_JOB";

/** A stage's options on one of `worldSize` ranks: the recipe's batch is the global one, split evenly. */
export function rankOptions(options: DemoRunOptions, worldSize: number): DemoRunOptions {
  const batchSize = options.batchSize ?? 1;
  if (batchSize % worldSize !== 0) throw new RangeError(`batchSize ${batchSize} does not split evenly over ${worldSize} ranks`);
  return { ...options, batchSize: batchSize / worldSize };
}

export async function runDemoSftRank(job: DemoSftJob, signal: AbortSignal): Promise<void> {
  const launch = readLaunchEnv();
  if (!launch) throw new Error(`${DEMO_SFT_JOB_VARIABLE} is set but WORLD_SIZE is not: this script is a rank that \`sdpo demo --nproc N\` starts`);
  const tokenizer = Tokenizer.fromFile(job.tokenizer);
  const resampled = await ResampledDataset.open(job.train, tokenizer, { subsequences: job.recipe.subsequences, copyRows: job.recipe.copyRows, skipRows: job.recipe.skipRows });
  const curveEval = await firstRows(PreferenceDataset.fromArrow(job.valid), job.recipe.curveEvalRows);
  const writes = launch.rank === 0;
  const model = createModel(job.shape, { device: job.device, seed: job.seed }) as unknown as Model;
  const common = { model, dir: job.dir, logDir: job.logDir, tokenizerFile: job.tokenizer, err: process.stderr, signal, writes };
  try {
    const train = await firstRows(resampled, job.recipe.trainRows);
    await trainDemoStage({ ...common, label: "sft", loss: "sft", options: rankOptions(job.sft, launch.worldSize), train, curveEval });
    if (job.naming) {
      const namingTrain = await firstRows(resampled, job.recipe.namingRows);
      await trainDemoStage({ ...common, label: "sft-naming", loss: "sft", options: rankOptions(job.naming, launch.worldSize), train: namingTrain, curveEval });
    }
  } finally {
    disposeModel(model);
    await native().destroyDistributed();
  }
}

if (require.main === module) {
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  const text = process.env[DEMO_SFT_JOB_VARIABLE];
  (async () => {
    if (!text) throw new Error(`${DEMO_SFT_JOB_VARIABLE} is not set: this script is a rank that \`sdpo demo --nproc N\` starts`);
    await runDemoSftRank(JSON.parse(text) as DemoSftJob, abort.signal);
  })().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`sdpo demo: rank ${process.env.RANK ?? "?"}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(abort.signal.aborted ? 130 : 1);
    }
  );
}
