/**
 * Reader + batch-building throughput on the LastFM shape (batch 32, K = 3, 20 candidates):
 *   npm run build:ts && node dist/bench/data.js [file.arrow] [epochs]
 */
import { join } from "path";
import { PreferenceDataset } from "../src/data/dataset";
import type { BatchOptions } from "../src/data/dataset";

async function measure(path: string, epochs: number, options: Omit<BatchOptions, "epoch">): Promise<number> {
  const dataset = PreferenceDataset.fromArrow(path);
  let examples = 0;
  let checksum = 0;
  const t0 = process.hrtime.bigint();
  for (let epoch = 0; epoch < epochs; epoch++) {
    for await (const batch of dataset.batches({ ...options, epoch })) {
      examples += batch.size;
      // Touch what a trainer hands to the native step, so nothing is left lazy.
      checksum += batch.prompt.offsets[batch.size] + batch.rejected.offsets[batch.size * batch.negatives] + batch.candidates.offsets.length;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (checksum === 0) throw new Error("empty data");
  return examples / seconds;
}

async function main(): Promise<void> {
  const path = process.argv[2] ?? join(__dirname, "..", "..", "datasets", "lastfm", "train.arrow");
  const epochs = Number(process.argv[3] ?? 20);
  const base = { batchSize: 32, negatives: 3, seed: 1 };
  const cases: [string, Omit<BatchOptions, "epoch">][] = [
    ["in order, fixed negatives", { ...base }],
    ["shuffled, fixed negatives", { ...base, shuffle: true }],
    ["shuffled, random negatives", { ...base, shuffle: true, negativeSampling: "random" }],
  ];
  await measure(path, 2, base); // warm up the JIT
  for (const [name, options] of cases) {
    const rate = await measure(path, epochs, options);
    process.stdout.write(`${name.padEnd(28)} ${Math.round(rate).toLocaleString("en-US")} examples/s\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/data: ${(err as Error).message}\n`);
  process.exit(1);
});
