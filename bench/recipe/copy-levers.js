// Copy levers for issue 11: can the from-scratch decoder learn to name one of the listed candidates (free-generation
// ValidRatio)? Extends recipe-grid.js with CFG.data (a folder with tokenizer.json/train.arrow/valid.arrow, e.g. the
// item-token data of item-token-data.js), CFG.copyRows (share of extra rows with a random history and a random target,
// which only the candidate list can predict) and CFG.copyInit (last layer attention initialised as a copy head:
// q/k identity on the low-frequency rotary dims, v/o identity). Results: copy-levers-2026-11-25.md.
const root = process.env.SDPO_DIST || require("path").resolve(__dirname, "../../dist/src");
const { createModel, presetConfig, PreferenceDataset, createTrainer, evaluate, Tokenizer, saveModel, loadModel } = require(root + "/index.js");
const { ResampledDataset } = require(root + "/data/resample.js");
const cfg = JSON.parse(process.env.CFG || "{}");
const C = { name: "x", preset: "tiny", shape: {}, file: false, subseq: true, sftEpochs: 3, lr: 3e-3, bs: 16, wd: 0, sched: "cosine", seed: 42, device: "cpu",
  pref: [], prefEpochs: 1, prefLr: 5e-4, beta: 1, evalRows: 267, evalEvery: 1, ...cfg };
const out = (o) => console.log(JSON.stringify({ name: C.name, ...o }));
(async () => {
  const tok = Tokenizer.fromFile((C.data||"datasets/lastfm")+"/tokenizer.json");
  const shape = { ...presetConfig(C.preset, tok.vocabSize), ...C.shape };
  shape.head_dim = shape.hidden_size / shape.num_attention_heads;
  const train = C.file ? PreferenceDataset.fromArrow((C.data||"datasets/lastfm")+"/train.arrow") : await ResampledDataset.open((C.data||"datasets/lastfm")+"/train.arrow", tok, { subsequences: C.subseq });
  if (C.copyRows && !C.file) {
    const ex = train["examples"], nItems = train["items"].length, nRows = ex.length; let s = (C.seed * 2654435761) >>> 0;
    const rnd = (n) => { s = (s * 1664525 + 1013904223) >>> 0; return s % n; };
    const extra = Math.round(nRows * C.copyRows / (1 - C.copyRows));
    for (let i = 0; i < extra; i++) {
      const len = 3 + rnd(8); const h = new Int32Array(len); for (let j = 0; j < len; j++) h[j] = rnd(nItems);
      let t; do t = rnd(nItems); while (h.includes(t));
      ex.push({ row: 100000 + i, history: h, target: t, key: (100000 + i) * 4096 + len });
    }
    out({ stage: "copyRows", added: extra, total: ex.length });
  }
  const valid = PreferenceDataset.fromArrow((C.data||"datasets/lastfm")+"/valid.arrow");
  const t0 = Date.now();
  const ev = async (model, stage, extra) => {
    const r = await evaluate(model, valid, { tokenizer: tok, batchSize: 32, maxNewTokens: 20, maxRows: C.evalRows });
    out({ stage, s: Math.round((Date.now() - t0) / 1000), ...extra, hr1: +r.hr1.toFixed(4), valid: +r.validRatio.toFixed(4), rankHr1: +r.rankHr1.toFixed(4), ndcg5: +r.ndcg5.toFixed(4), hr5: +r.hr5.toFixed(4) });
  };
  const model = createModel(shape, { seed: C.seed, device: C.device });
  if (C.copyInit) {
    const L = shape.num_hidden_layers - 1, H = shape.hidden_size, hd = shape.head_dim, nh = shape.num_attention_heads;
    const mat = (rows, cols, fill) => { const a = new Float32Array(rows * cols); fill(a); return new Uint8Array(a.buffer); };
    const alpha = C.copyInit.alpha ?? 2, beta = C.copyInit.beta ?? 1;
    // q/k: identity on the low-frequency rotary dims of each head (i in [hd/4, hd/2) and their pairs), input features spread over heads.
    let feat = 0; const qk = new Float32Array(nh * hd * H);
    for (let h = 0; h < nh; h++) for (let i = hd / 4; i < hd / 2; i++) for (const d of [i, i + hd / 2]) { qk[(h * hd + d) * H + (feat++ % H)] = 1; }
    const q = qk.map((v) => v * alpha);
    const p = `model.layers.${L}.self_attn.`;
    model.native.setTensor(p + "q_proj.weight", "F32", [nh * hd, H], new Uint8Array(q.buffer));
    model.native.setTensor(p + "k_proj.weight", "F32", [nh * hd, H], new Uint8Array(qk.buffer));
    model.native.setTensor(p + "v_proj.weight", "F32", [nh * hd, H], mat(nh * hd, H, (a) => { for (let r = 0; r < Math.min(nh * hd, H); r++) a[r * H + r] = 1; }));
    model.native.setTensor(p + "o_proj.weight", "F32", [H, nh * hd], mat(H, nh * hd, (a) => { for (let r = 0; r < Math.min(nh * hd, H); r++) a[r * nh * hd + r] = beta; }));
    out({ stage: "copyInit", layer: L, features: feat });
  }
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
