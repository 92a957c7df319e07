/**
 * Soak: a long S-DPO run of the tiny preset on the shipped LastFM rows, printing the process's RSS and the JS heap
 * every --every steps, then the RSS growth per 100 steps over the second half (after warm-up allocations settle).
 * A steady growth there is a leak or an unbounded cache; a flat line is what a training loop should show.
 *
 *   node dist/bench/soak.js [--steps 2500] [--every 100] [--batch-size 4] [--negatives 3] [--threads 1]
 */
import { createModel } from "../src/model/checkpoint";
import { presetConfig } from "../src/model/config";
import { native } from "../src/native";
import { shippedDataset } from "../src/data/shipped";
import { Tokenizer } from "../src/data/tokenizer";
import { createTrainer } from "../src/trainers/registry";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer, got ${process.argv[i + 1]}`);
  return value;
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx > 0 ? sxy / sxx : 0;
}

async function main(): Promise<void> {
  const steps = flag("steps", 2500);
  const every = flag("every", 100);
  native().setNumThreads(flag("threads", 1));
  const lastfm = shippedDataset("lastfm");
  const model = createModel(presetConfig("tiny", Tokenizer.fromFile(lastfm.tokenizer).vocabSize), { seed: 42 });
  const trainer = createTrainer("sdpo", {
    model,
    learningRate: 1e-4,
    batchSize: flag("batch-size", 4),
    negatives: flag("negatives", 3),
    numTrainEpochs: 1000,
    maxSteps: steps,
    logSteps: every,
  });
  const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  const samples: { x: number; y: number }[] = [];
  const started = Date.now();
  trainer.on("step", (e) => {
    if (e.step % every !== 0) return;
    const memory = process.memoryUsage();
    samples.push({ x: e.step, y: memory.rss });
    console.log(JSON.stringify({ step: e.step, rssMb: mb(memory.rss), heapUsedMb: mb(memory.heapUsed), externalMb: mb(memory.external), seconds: (Date.now() - started) / 1000 }));
  });
  await trainer.fit(lastfm.train);
  trainer.dispose();
  const secondHalf = samples.filter((p) => p.x > steps / 2);
  console.log(
    JSON.stringify({
      steps,
      rssFirstMb: mb(samples[0].y),
      rssLastMb: mb(samples[samples.length - 1].y),
      rssGrowthMbPer100StepsSecondHalf: Math.round(((slope(secondHalf) * 100) / 2 ** 20) * 1000) / 1000,
    })
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
