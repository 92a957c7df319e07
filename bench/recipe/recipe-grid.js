// Recipe experiment: SFT from scratch (resampled or file rows), then DPO / S-DPO from the SFT weights; eval on valid.
// Config from env CFG (JSON). Prints one JSON line per evaluation.
const root = process.env.SDPO_DIST || "/work/main/dist/src";
const { createModel, presetConfig, PreferenceDataset, createTrainer, evaluate, Tokenizer, saveModel, loadModel } = require(root + "/index.js");
const { ResampledDataset } = require(root + "/data/resample.js");
const cfg = JSON.parse(process.env.CFG || "{}");
const C = { name: "x", preset: "tiny", shape: {}, file: false, subseq: true, sftEpochs: 3, lr: 3e-3, bs: 16, wd: 0, sched: "cosine", seed: 42, device: "cpu",
  pref: [], prefEpochs: 1, prefLr: 5e-4, beta: 1, evalRows: 267, evalEvery: 1, ...cfg };
const out = (o) => console.log(JSON.stringify({ name: C.name, ...o }));
(async () => {
  const tok = Tokenizer.fromFile("datasets/lastfm/tokenizer.json");
  const shape = { ...presetConfig(C.preset, tok.vocabSize), ...C.shape };
  shape.head_dim = shape.hidden_size / shape.num_attention_heads;
  const train = C.file ? PreferenceDataset.fromArrow("datasets/lastfm/train.arrow") : await ResampledDataset.open("datasets/lastfm/train.arrow", tok, { subsequences: C.subseq });
  const valid = PreferenceDataset.fromArrow("datasets/lastfm/valid.arrow");
  const t0 = Date.now();
  const ev = async (model, stage, extra) => {
    const r = await evaluate(model, valid, { tokenizer: tok, batchSize: 32, maxNewTokens: 20, maxRows: C.evalRows });
    out({ stage, s: Math.round((Date.now() - t0) / 1000), ...extra, hr1: +r.hr1.toFixed(4), valid: +r.validRatio.toFixed(4), rankHr1: +r.rankHr1.toFixed(4), ndcg5: +r.ndcg5.toFixed(4), hr5: +r.hr5.toFixed(4) });
  };
  const model = createModel(shape, { seed: C.seed, device: C.device });
  const trainer = createTrainer("sft", { model, learningRate: C.lr, numTrainEpochs: C.sftEpochs, batchSize: C.bs, warmupRatio: 0.03, lrSchedulerType: C.sched, seed: C.seed, weightDecay: C.wd, evalSteps: 0 });
  const rep = await trainer.fit(train);
  await ev(model, "sft", { loss: +rep.finalLoss.toFixed(3), steps: rep.steps });
  const dir = `/tmp/sft-${C.name}-${process.pid}`;
  await saveModel(model, dir, { overwrite: true });
  trainer.dispose?.();
  for (const p of C.pref) {
    const m = await loadModel(dir, { device: C.device });
    const tr = createTrainer(p.loss, { model: m, learningRate: p.lr ?? C.prefLr, beta: p.beta ?? C.beta, negatives: p.k, numTrainEpochs: p.epochs ?? C.prefEpochs, batchSize: C.bs, warmupRatio: 0.05, seed: C.seed });
    const r2 = await tr.fit(train);
    await ev(m, p.loss + p.k, { loss: +r2.finalLoss.toFixed(3), steps: r2.steps, lr: p.lr ?? C.prefLr });
    tr.dispose?.(); m.native?.dispose?.();
  }
})().catch((e) => { console.error(C.name, e); process.exit(1); });
