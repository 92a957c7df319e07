// Greedy answers of a model on re-drawn rows (the file rows only, fresh candidate lists), by kind: the target,
// another listed title, a title of the prompt outside the list (a history item), other text. Train rows show whether the
// model names listed titles on rows it fitted, valid rows whether that holds on unseen ones.
// Usage: node bench/recipe/answer-kinds.js MODEL_DIR DATA_DIR [train|valid]   (DATA_DIR: a demo output's data/)
const S = process.env.SDPO_DIST || require("path").resolve(__dirname, "../../dist/src");
const { loadModel } = require(S + "/model/checkpoint.js");
const { ResampledDataset } = require(S + "/data/resample.js");
const { Tokenizer } = require(S + "/data/tokenizer.js");
const { repack } = require(S + "/eval/batch-inputs.js");
(async () => {
  const [modelDir, dataDir, which] = process.argv.slice(2);
  const model = await loadModel(modelDir, { device: "cpu" });
  const t = Tokenizer.fromFile(dataDir + "/tokenizer.json");
  const file = which === "valid" ? dataDir + "/valid.arrow" : dataDir + "/train.arrow";
  const ds = await ResampledDataset.open(file, t, {});
  const c = { target: 0, listed: 0, history: 0, other: 0, rows: 0 };
  for await (const batch of ds.batches({ batchSize: 32, negatives: 0, shuffle: true, seed: 7, epoch: 1000 })) {
    const p = repack(batch.prompt, 0, batch.size);
    const out = await model.native.generate(p.values, p.offsets, { maxNewTokens: 3, eosTokenId: t.eosId });
    for (let b = 0; b < batch.size; b++) {
      const text = (await t.decode(out.ids.subarray(out.offsets[b], out.offsets[b + 1]))).trim();
      const cands = batch.text.candidates[b].map((x) => x.trim());
      c.rows++;
      if (text === batch.text.chosen[b].trim()) c.target++;
      else if (cands.includes(text)) c.listed++;
      else if (batch.text.prompt[b].includes(text)) c.history++;
      else c.other++;
    }
    if (c.rows >= 512) break;
  }
  console.log(which || "train", JSON.stringify(c));
})().catch((e) => { console.error(e); process.exit(1); });
