// The demo's SFT stage alone with a changed recipe, for screening issue 11's levers on the valid split faster than
// demo-variant.js (no preference stages, no baselines). CFG is merged into DEMO_RECIPE (its `sft` object merged
// into DEMO_RECIPE.sft; `resample` passed to ResampledDataset.open beside subsequences/copyRows). Prints one JSON
// line: HR@1, ValidRatio, rank HR@1, the final loss, steps and seconds, and saves the model to OUT/sft
// (bench/recipe/answer-kinds.js then says what its invalid answers are).
// Usage: CFG='{"sft":{"weightDecay":0.1}}' SEED=44 OUT=/tmp/v1 SDPO_NUM_THREADS=1 node bench/recipe/sft-variant.js
const path = require("path");
const root = process.env.SDPO_DIST || path.resolve(__dirname, "../../dist/src");
const { DEMO_RECIPE, demoModelConfig, itemTokenOptions } = require(root + "/cli/demo-recipe.js");
const { itemTokenData, shippedLastfm } = require(root + "/cli/demo-data.js");
const { ResampledDataset } = require(root + "/data/resample.js");
const { PreferenceDataset } = require(root + "/data/dataset.js");
const { Tokenizer } = require(root + "/data/tokenizer.js");
const { createModel, saveModel } = require(root + "/model/checkpoint.js");
const { presetConfig } = require(root + "/model/config.js");
const { createTrainer } = require(root + "/trainers/index.js");
const { evaluate } = require(root + "/eval/evaluate.js");

(async () => {
  const cfg = JSON.parse(process.env.CFG || "{}");
  const seed = Number(process.env.SEED || 42);
  const out = process.env.OUT;
  if (!out) throw new Error("OUT is required");
  const recipe = { ...DEMO_RECIPE, ...cfg, sft: { ...DEMO_RECIPE.sft, ...(cfg.sft || {}), seed } };
  const data = await itemTokenData(shippedLastfm(), out, itemTokenOptions(recipe));
  const tokenizer = Tokenizer.fromFile(data.tokenizer);
  const train = await ResampledDataset.open(data.train, tokenizer, { subsequences: recipe.subsequences, copyRows: recipe.copyRows, skipRows: recipe.skipRows, ...(cfg.resample || {}) });
  const model = createModel(demoModelConfig(recipe, presetConfig, tokenizer.vocabSize), { device: "cpu", seed });
  const t0 = Date.now();
  const trainer = createTrainer("sft", { ...recipe.sft, model });
  const report = await trainer.fit(train);
  await saveModel(model, path.join(out, "sft"), { overwrite: true });
  const result = await evaluate(model, PreferenceDataset.fromArrow(data.valid), { tokenizer, batchSize: 32, maxNewTokens: 20 });
  const m = result;
  console.log(JSON.stringify({ cfg, seed, hr1: +m.hr1.toFixed(4), validRatio: +m.validRatio.toFixed(4), rankHr1: +m.rankHr1.toFixed(4), finalLoss: +report.finalLoss.toFixed(4), steps: report.steps, seconds: Math.round((Date.now() - t0) / 1000) }));
})().catch((e) => { console.error(e); process.exit(1); });
