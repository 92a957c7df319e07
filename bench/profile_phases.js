#!/usr/bin/env node
// Rough phase split of one S-DPO step (bench shape): forward-only scoring vs the whole step, and the
// matmul rate, to see where the time goes. Usage: node bench/profile_phases.js [K] [threads | ""] [reps]
const { native } = require("../dist/src/native");
const { benchModelConfig, randomBatch, seededRandom } = require("../dist/src/bench/train_bench");
const { createModel } = require("../dist/src/model/checkpoint");

async function main() {
  const K = Number(process.argv[2] ?? 3), threads = process.argv[3] ? Number(process.argv[3]) : undefined, reps = Number(process.argv[4] ?? 5);
  const shape = { vocab: 4096, dim: 256, layers: 4, heads: 4, kvHeads: 4, ffn: 688, promptLen: 160, respLen: 6, negatives: K, batchSize: 4 };
  if (threads !== undefined) native().setNumThreads(threads); // else the addon's default
  const model = createModel(benchModelConfig(shape), { seed: 0 });
  const trainer = new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "frozen-copy" });
  const random = seededRandom(1);
  const time = async (fn) => { const t = process.hrtime.bigint(); await fn(); return Number(process.hrtime.bigint() - t) / 1e6; };
  const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const batch = randomBatch(shape, random);
  await trainer.step(batch, { learningRate: 1e-5, optimizerStep: true, weight: 1 });
  const step = [], score = [], evalStep = [];
  for (let i = 0; i < reps; i++) {
    step.push(await time(() => trainer.step(batch, { learningRate: 1e-5, optimizerStep: true, weight: 1 })));
    score.push(await time(() => model.native.score(batch)));
    evalStep.push(await time(() => trainer.evaluate(batch)));
  }
  console.log(JSON.stringify({ K, threads, step_ms: med(step), policy_forward_ms: med(score), evaluate_ms_two_forwards: med(evalStep),
    backward_and_adam_ms_estimate: med(step) - med(evalStep), matmul_gflops: (await native().benchMatmul(1024, 10)).gflops }));
  trainer.dispose(); model.native.dispose();
}
main();
