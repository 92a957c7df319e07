/** The native training step (Trainer binding) on a tiny float64 model. */
import { native, type TrainBatchInput } from "../../src/native";
import { expectThrows, rejectionOf } from "../helpers";
import { maxAbsDiff, packTrainBatch, tinyModel } from "./fixtures";

/** Example b: prompt [1+b, 2], chosen [20+b, 63], negatives [30+(b+k)%20, 63] for k < K. */
function makeBatch(examples: number[], K: number): TrainBatchInput {
  return packTrainBatch(
    examples.map((e) => ({
      prompt: [1 + e, 2],
      chosen: [20 + e, 63],
      rejected: Array.from({ length: K }, (_, k) => [30 + ((e + k) % 20), 63]),
    }))
  );
}

/** Summed -log p over the tokens of the first B responses (the chosen ones, packed first), and their count. */
function chosenTokenNll(batch: TrainBatchInput, tokenLogps: Float64Array, B: number): { nll: number; tokens: number } {
  let nll = 0;
  let tokens = 0;
  for (let b = 0; b < B; b++) {
    for (let t = batch.responseOffsets[b]; t < batch.responseOffsets[b + 1]; t++) {
      nll -= tokenLogps[t];
      tokens++;
    }
  }
  return { nll, tokens };
}

function floats(model: ReturnType<typeof tinyModel>, name: string): Float64Array<ArrayBufferLike> {
  const t = model.native.getTensor(name);
  return new Float64Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
}

/**
 * Holds a trainer's gradient (read back as AdamW's first moment after one lr-0 step) to float64 central
 * differences of its evaluated loss, at the largest-gradient entries of three parameters and two more.
 */
async function expectGradientMatchesDifferences(model: ReturnType<typeof tinyModel>, options: Record<string, unknown>, batch: TrainBatchInput): Promise<void> {
  const t = new (native().Trainer)(model.native, { ...options, maxGradNorm: 0, weightDecay: 0, adamBeta1: 0.5 } as never);
  // lr 0 leaves the weights; the first moment after one step is (1 - beta1) * gradient.
  await t.step(batch, { learningRate: 0, optimizerStep: true, weight: 1 });
  const names = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"];
  const h = 1e-6;
  for (const name of names) {
    const moment = t.optimizerState().tensors.find((x) => x.name === `${name}.exp_avg`)!;
    const gradient = Float64Array.from(new Float64Array(moment.data.buffer.slice(moment.data.byteOffset, moment.data.byteOffset + moment.data.byteLength)), (m) => m / 0.5);
    const info = model.native.parameterInfo().find((p) => p.name === name)!;
    const values = floats(model, name);
    // the entries with the largest gradients (embedding rows of unused tokens have none), and two more
    const order = Array.from(gradient.keys()).sort((a, b) => Math.abs(gradient[b]) - Math.abs(gradient[a]));
    for (const i of [order[0], order[1], order[7], order[31]]) {
      const saved = values[i];
      const lossAt = async (x: number) => {
        values[i] = x;
        model.native.setTensor(name, "F64", info.shape, new Uint8Array(values.buffer));
        return (await t.evaluate(batch)).loss;
      };
      const numeric = ((await lossAt(saved + h)) - (await lossAt(saved - h))) / (2 * h);
      await lossAt(saved);
      expect({ name, i, diff: Math.abs(numeric - gradient[i]) < 1e-7 + 1e-6 * Math.abs(numeric) }).toEqual({ name, i, diff: true });
    }
  }
  t.dispose();
}

describe("native Trainer step", () => {
  test("first AdamW step moves every parameter with a gradient by ~lr (bias-corrected Adam), decay shrinks first", async () => {
    const model = tinyModel();
    const name = "model.layers.0.mlp.up_proj.weight";
    const before = floats(model, name);
    const trainer = new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "frozen-copy", maxGradNorm: 0, weightDecay: 0.5 });
    const stats = await trainer.step(makeBatch([0, 1], 2), { learningRate: 1e-3, optimizerStep: true, weight: 1 });
    expect(stats.optimizerSteps).toBe(1);
    const after = floats(model, name);
    let moved = 0;
    for (let i = 0; i < before.length; i++) {
      const decayed = before[i] * (1 - 1e-3 * 0.5);
      const delta = Math.abs(after[i] - decayed);
      if (delta > 1e-12) {
        moved++;
        expect(delta).toBeGreaterThan(0.9e-3);
        expect(delta).toBeLessThanOrEqual(1e-3 + 1e-12);
      }
    }
    expect(moved).toBeGreaterThan(before.length / 2);
    trainer.dispose();
  });

  test("AdamW matches the textbook update over two steps (moments read back from optimizerState)", async () => {
    const model = tinyModel();
    const name = "model.layers.1.self_attn.v_proj.weight";
    const [lr, wd, b1, b2, eps] = [1e-2, 0.1, 0.8, 0.95, 1e-8];
    const trainer = new (native().Trainer)(model.native, {
      loss: "sdpo", referenceMode: "frozen-copy", maxGradNorm: 0, weightDecay: wd, adamBeta1: b1, adamBeta2: b2, adamEpsilon: eps,
    });
    const moments = () => {
      const pick = (suffix: string) => {
        const t = trainer.optimizerState().tensors.find((x) => x.name === `${name}.${suffix}`)!;
        return new Float64Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
      };
      return { m: pick("exp_avg"), v: pick("exp_avg_sq") };
    };
    let p = floats(model, name);
    let m: Float64Array<ArrayBufferLike> = new Float64Array(p.length);
    let v: Float64Array<ArrayBufferLike> = new Float64Array(p.length);
    for (let t = 1; t <= 2; t++) {
      await trainer.step(makeBatch([t, t + 1], 2), { learningRate: lr, optimizerStep: true, weight: 1 });
      const next = moments();
      const after = floats(model, name);
      for (let i = 0; i < p.length; i++) {
        const g = (next.m[i] - b1 * m[i]) / (1 - b1); // the gradient this step used
        expect(next.v[i]).toBeCloseTo(b2 * v[i] + (1 - b2) * g * g, 14);
        const denom = Math.sqrt(next.v[i]) / Math.sqrt(1 - b2 ** t) + eps;
        const expected = p[i] * (1 - lr * wd) - (lr / (1 - b1 ** t)) * (next.m[i] / denom);
        expect(Math.abs(after[i] - expected)).toBeLessThan(1e-12);
      }
      [p, m, v] = [after, next.m, next.v];
    }
    trainer.dispose();
  });

  test("the first sdpo loss is log(1 + K) (policy = reference) and training lowers it", async () => {
    const model = tinyModel();
    const trainer = new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "frozen-copy" });
    const batch = makeBatch([0, 1, 2], 3);
    const first = await trainer.step(batch, { learningRate: 1e-2, optimizerStep: true, weight: 1 });
    expect(first.loss).toBeCloseTo(Math.log(4), 10);
    expect(first.chosenReward).toBe(0);
    let last = first;
    for (let i = 0; i < 10; i++) last = await trainer.step(batch, { learningRate: 1e-2, optimizerStep: true, weight: 1 });
    expect(last.loss).toBeLessThan(first.loss / 2);
    expect(last.rewardAccuracy).toBe(1);
    expect(last.rewardMargin).toBeCloseTo(last.chosenReward - last.rejectedReward, 12);
    const evaluated = await trainer.evaluate(batch);
    expect(evaluated.optimizerStep).toBe(false);
    expect(Number.isNaN(evaluated.gradNorm)).toBe(true);
    expect(evaluated.optimizerSteps).toBe(11);
    trainer.dispose();
  });

  test("8 examples in one step == 8 micro-batches of 1 accumulated (float64)", async () => {
    const examples = [0, 1, 2, 3, 4, 5, 6, 7];
    const a = tinyModel();
    const b = tinyModel();
    for (const loss of ["sdpo", "sft"] as const) {
      const ta = new (native().Trainer)(a.native, { loss, referenceMode: "frozen-copy" });
      const tb = new (native().Trainer)(b.native, { loss, referenceMode: "frozen-copy" });
      const K = loss === "sft" ? 0 : 2;
      const whole = await ta.step(makeBatch(examples, K), { learningRate: 1e-2, optimizerStep: true, weight: 1 });
      let gradNorm = NaN;
      for (let i = 0; i < 8; i++) {
        // every example has 2 chosen tokens: equal weights for both losses
        const s = await tb.step(makeBatch([examples[i]], K), { learningRate: 1e-2, optimizerStep: i === 7, weight: 1 / 8 });
        if (i === 7) gradNorm = s.gradNorm;
      }
      expect(gradNorm).toBeCloseTo(whole.gradNorm, 10);
      for (const p of a.native.parameterInfo()) {
        const x = floats(a, p.name);
        const y = floats(b, p.name);
        for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-12);
      }
      ta.dispose();
      tb.dispose();
    }
  });

  test("a step that throws drops the gradients accumulated before it, as zeroGrad() does", async () => {
    const withReference = async (model: ReturnType<typeof tinyModel>, batch: TrainBatchInput) =>
      ({ ...batch, referenceLogps: (await model.native.score(batch, { adapters: false })).logps });
    // One optimizer step on examples 4, 5, after: nothing / a micro-batch then one whose loss overflows / a micro-batch then zeroGrad().
    const run = async (before: "nothing" | "failed micro-batch" | "zeroGrad") => {
      const model = tinyModel();
      const t = new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "precomputed" });
      if (before !== "nothing") await t.step(await withReference(model, makeBatch([0, 1], 2)), { learningRate: 0, optimizerStep: false, weight: 0.5 });
      if (before === "failed micro-batch") {
        const bad = makeBatch([2, 3], 2);
        const chosen = new Set(bad.chosenIndex);
        // Finite reference log-probs whose rewards overflow.
        const referenceLogps = Float64Array.from(bad.responsePrompt, (_, r) => (chosen.has(r) ? 1e308 : -1e308));
        const err = await rejectionOf(t.step({ ...bad, referenceLogps }, { learningRate: 0, optimizerStep: false, weight: 0.5 }));
        expect(err.message).toMatch(/loss is not finite/);
      }
      if (before === "zeroGrad") await t.zeroGrad();
      const stats = await t.step(await withReference(model, makeBatch([4, 5], 2)), { learningRate: 1e-2, optimizerStep: true, weight: 1 });
      t.dispose();
      return { model, gradNorm: stats.gradNorm };
    };
    const clean = await run("nothing");
    for (const before of ["failed micro-batch", "zeroGrad"] as const) {
      const other = await run(before);
      expect({ before, gradNorm: other.gradNorm }).toEqual({ before, gradNorm: clean.gradNorm });
      expect({ before, diff: maxAbsDiff(other.model, clean.model) }).toEqual({ before, diff: 0 });
    }
  });

  test("gradients are clipped to maxGradNorm; the reported norm is before clipping", async () => {
    const a = tinyModel();
    const t = new (native().Trainer)(a.native, { loss: "sft", maxGradNorm: 1e-3 });
    const s1 = await t.step(makeBatch([0, 1], 0), { learningRate: 0, optimizerStep: true, weight: 1 });
    expect(s1.gradNorm).toBeGreaterThan(1e-3);
    t.dispose();
  });

  test("clipping scales the gradient AdamW uses by maxGradNorm / (norm + 1e-6)", async () => {
    const run = async (maxGradNorm: number) => {
      const model = tinyModel();
      const t = new (native().Trainer)(model.native, { loss: "sft", maxGradNorm });
      const stats = await t.step(makeBatch([0, 1], 0), { learningRate: 1e-3, optimizerStep: true, weight: 1 });
      const m = t.optimizerState().tensors.filter((x) => x.name.endsWith(".exp_avg"));
      t.dispose();
      return { norm: stats.gradNorm, m: m.map((x) => new Float64Array(x.data.buffer.slice(x.data.byteOffset, x.data.byteOffset + x.data.byteLength))) };
    };
    const free = await run(0);
    const clipped = await run(1e-3);
    expect(clipped.norm).toBeCloseTo(free.norm, 12);
    const scale = 1e-3 / (free.norm + 1e-6);
    expect(scale).toBeLessThan(1);
    free.m.forEach((m, j) => {
      for (let i = 0; i < m.length; i++) expect(Math.abs(clipped.m[j][i] - m[i] * scale)).toBeLessThanOrEqual(1e-15 + 1e-12 * Math.abs(m[i] * scale));
    });
  });

  test("optimizer state and RNG state round-trip", async () => {
    const model = tinyModel();
    const t = new (native().Trainer)(model.native, { loss: "dpo", referenceMode: "frozen-copy" });
    await t.step(makeBatch([0, 1], 1), { learningRate: 1e-3, optimizerStep: true, weight: 1 });
    const state = t.optimizerState();
    expect(state.step).toBe(1);
    const trainable = model.native.parameterInfo().filter((p) => p.trainable);
    expect(state.tensors.length).toBe(2 * trainable.length);
    expect(state.tensors.map((x) => x.name)).toContain(`${trainable[0].name}.exp_avg_sq`);
    const other = new (native().Trainer)(tinyModel().native, { loss: "dpo", referenceMode: "frozen-copy" });
    other.loadOptimizerState(state);
    const again = other.optimizerState();
    expect(again.step).toBe(1);
    again.tensors.forEach((x, i) => expect(Buffer.from(x.data).equals(Buffer.from(state.tensors[i].data))).toBe(true));
    expectThrows(() => other.loadOptimizerState({ step: 1, tensors: state.tensors.slice(1) }), "RangeError", /expected \d+ tensors/);
    const bad = state.tensors.map((x, i) => (i === 0 ? { ...x, shape: [1, 2, 3] } : x));
    expectThrows(() => other.loadOptimizerState({ step: 1, tensors: bad }), "RangeError", /bytes, shape and dtype need/);
    const rng = t.rngState();
    t.setRngState(rng);
    expect(Buffer.from(t.rngState()).equals(Buffer.from(rng))).toBe(true);
    expectThrows(() => t.setRngState(new Uint8Array(3)), "RangeError", /state holds 3 bytes/);
    t.dispose();
    other.dispose();
  });

  test("bad batches and options are clear errors; disposed trainers refuse use", async () => {
    const model = tinyModel();
    expectThrows(() => new (native().Trainer)(model.native, { loss: "ipo" as never }), "RangeError", /loss must be one of sft, dpo, sdpo/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "dpo" }), "RangeError", /adapters-off' needs a model with LoRA/);
    expectThrows(() => new (native().Trainer)({} as never, { loss: "sft" }), "TypeError");
    const t = new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "frozen-copy" });
    const batch = makeBatch([0, 1], 2);
    let err = await rejectionOf(t.step({ ...batch, chosenIndex: Int32Array.from([0, 9]) }, { learningRate: 1, optimizerStep: true, weight: 1 }));
    expect(err.message).toMatch(/chosenIndex\[1\] = 9/);
    err = await rejectionOf(t.step({ ...batch, rejectedIndex: Int32Array.from([-1, -1, 2, 3]) }, { learningRate: 1, optimizerStep: true, weight: 1 }));
    expect(err.message).toMatch(/example 0 has no real negative/);
    expectThrows(() => t.step({ ...batch, responseOffsets: Int32Array.from([0, 2, 1, 6, 8, 10, 12]) }, { learningRate: 1, optimizerStep: true, weight: 1 }), "RangeError", /non-decreasing/);
    expectThrows(() => t.step({ ...batch, rejectedIndex: Int32Array.from([2, 3, 4]) }, { learningRate: 1, optimizerStep: true, weight: 1 }), "RangeError", /B \* K/);
    expectThrows(() => t.step(batch, { learningRate: 1, optimizerStep: true, weight: 0 }), "RangeError", /weight/);
    const pre = await rejectionOf(new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "precomputed" }).evaluate(batch));
    expect(pre.message).toMatch(/no referenceLogps/);
    t.dispose();
    expect(t.disposed).toBe(true);
    expectThrows(() => t.step(batch, { learningRate: 1, optimizerStep: true, weight: 1 }), "Error", /disposed/);
  });

  test("losses and rewards match a plain JS formula over the model's own scores (masked negatives included)", async () => {
    const model = tinyModel();
    const batch = makeBatch([0, 1, 2], 3);
    batch.rejectedIndex[4] = -1; // example 1 has only 2 real negatives
    const { logps, tokenLogps } = await model.native.score(batch, { tokenLogps: true });
    const reference = logps.map((x, i) => x + Math.sin(3 * i + 1)); // a reference that differs from the policy
    const beta = 0.7;
    const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    const r = (i: number) => beta * (logps[i] - reference[i]);
    let sdpo = 0;
    let dpo = 0;
    let accuracy = 0;
    for (let b = 0; b < 3; b++) {
      const negs = [0, 1, 2].map((k) => batch.rejectedIndex[b * 3 + k]).filter((j) => j >= 0);
      sdpo += softplus(Math.log(negs.reduce((acc, j) => acc + Math.exp(r(j) - r(b)), 0)));
      dpo += softplus(r(batch.rejectedIndex[b * 3]) - r(b));
      if (negs.every((j) => r(b) > r(j))) accuracy++;
    }
    const sd = new (native().Trainer)(model.native, { loss: "sdpo", beta, referenceMode: "precomputed" });
    const s = await sd.evaluate({ ...batch, referenceLogps: reference });
    expect(s.loss).toBeCloseTo(sdpo / 3, 12);
    expect(s.rewardAccuracy).toBeCloseTo(accuracy / 3, 12);
    expect(s.chosenReward).toBeCloseTo((r(0) + r(1) + r(2)) / 3, 12);
    const firstNegatives = { ...batch, rejectedIndex: Int32Array.from([0, 1, 2].map((b) => batch.rejectedIndex[b * 3])), referenceLogps: reference };
    const dp = new (native().Trainer)(model.native, { loss: "dpo", beta, referenceMode: "precomputed" });
    expect((await dp.evaluate(firstNegatives)).loss).toBeCloseTo(dpo / 3, 12);
    // sft: mean negative log-prob over the chosen responses' tokens
    const { nll, tokens } = chosenTokenNll(batch, tokenLogps!, 3);
    const sft = new (native().Trainer)(model.native, { loss: "sft" });
    const f = await sft.evaluate(batch);
    expect(f.loss).toBeCloseTo(nll / tokens, 12);
    expect(f.lossTokens).toBe(tokens);
    for (const t of [sd, dp, sft]) t.dispose();
  });

  test("sft's candidate-list term: token cross-entropy + listWeight * mean of -log(sum of the candidates' probabilities)", async () => {
    const model = tinyModel();
    const batch = makeBatch([0, 1, 2], 3);
    batch.rejectedIndex[4] = -1; // example 1 lists only 2 other candidates
    const { logps, tokenLogps } = await model.native.score(batch, { tokenLogps: true });
    const { nll, tokens } = chosenTokenNll(batch, tokenLogps!, 3);
    let list = 0;
    for (let b = 0; b < 3; b++) {
      const listed = [b, ...[0, 1, 2].map((k) => batch.rejectedIndex[b * 3 + k]).filter((j) => j >= 0)];
      list -= Math.log(listed.reduce((acc, j) => acc + Math.exp(logps[j]), 0));
    }
    const weight = 0.7;
    const t = new (native().Trainer)(model.native, { loss: "sft", listWeight: weight });
    expect((await t.evaluate(batch)).loss).toBeCloseTo(nll / tokens + (weight * list) / 3, 12);
    const plain = new (native().Trainer)(model.native, { loss: "sft" });
    expect((await plain.evaluate(batch)).loss).toBeCloseTo(nll / tokens, 12);
    const err = await rejectionOf(t.evaluate(makeBatch([0, 1], 0)));
    expect(err.message).toMatch(/candidate-list term \(listWeight > 0\) needs the other candidates/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "frozen-copy", listWeight: 1 }), "RangeError", /listWeight is a term of the sft loss, not of sdpo/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sft", listWeight: -1 }), "RangeError", /listWeight must be a finite number >= 0/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sft", listWeight: NaN }), "RangeError", /listWeight must be finite/);
    t.dispose();
    plain.dispose();
  });

  test("sft's candidate-list term: the step's gradient matches float64 central differences of its loss", async () => {
    const model = tinyModel();
    const batch = makeBatch([0, 1, 2], 3);
    batch.rejectedIndex[7] = -1;
    await expectGradientMatchesDifferences(model, { loss: "sft", listWeight: 2.5 }, batch);
  });

  test("sft's list smoothing: token cross-entropy + listSmoothing * mean of -(mean log-prob of the listed first tokens)", async () => {
    const model = tinyModel();
    const batch = makeBatch([0, 1, 2], 3);
    batch.rejectedIndex[4] = -1; // example 1 lists only 2 other candidates
    const { logps, tokenLogps } = await model.native.score(batch, { tokenLogps: true });
    const { nll, tokens } = chosenTokenNll(batch, tokenLogps!, 3);
    // A response's first token log-prob is read at its prompt's last position: the same for every candidate of a row.
    let smoothing = 0;
    let list = 0;
    for (let b = 0; b < 3; b++) {
      const listed = [b, ...[0, 1, 2].map((k) => batch.rejectedIndex[b * 3 + k]).filter((j) => j >= 0)];
      smoothing -= listed.reduce((acc, j) => acc + tokenLogps![batch.responseOffsets[j]], 0) / listed.length;
      list -= Math.log(listed.reduce((acc, j) => acc + Math.exp(logps[j]), 0));
    }
    const epsilon = 0.6;
    const t = new (native().Trainer)(model.native, { loss: "sft", listSmoothing: epsilon });
    const stats = await t.evaluate(batch);
    expect(stats.loss).toBeCloseTo(nll / tokens + (epsilon * smoothing) / 3, 12);
    expect(stats.lossTokens).toBe(tokens);
    // With the candidate-list term too, the negatives are scored as responses and both terms add up.
    const both = new (native().Trainer)(model.native, { loss: "sft", listSmoothing: epsilon, listWeight: 0.3 });
    expect((await both.evaluate(batch)).loss).toBeCloseTo(nll / tokens + (epsilon * smoothing) / 3 + (0.3 * list) / 3, 12);
    const err = await rejectionOf(t.evaluate(makeBatch([0, 1], 0)));
    expect(err.message).toMatch(/candidate-list term \(listSmoothing > 0\) needs the other candidates/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "dpo", referenceMode: "frozen-copy", listSmoothing: 0.1 }), "RangeError", /listSmoothing is a term of the sft loss, not of dpo/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sft", listSmoothing: -0.1 }), "RangeError", /listSmoothing must be a finite number >= 0/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sft", listSmoothing: Infinity }), "RangeError", /listSmoothing must be finite/);
    t.dispose();
    both.dispose();
  });

  test("sft's list smoothing: the step's gradient matches float64 central differences of its loss, alone and with the list term", async () => {
    const model = tinyModel();
    const batch = makeBatch([0, 1, 2], 3);
    batch.rejectedIndex[7] = -1;
    await expectGradientMatchesDifferences(model, { loss: "sft", listSmoothing: 1.5 }, batch);
    await expectGradientMatchesDifferences(model, { loss: "sft", listSmoothing: 0.8, listWeight: 1.2 }, batch);
  });

  /** Example b's history first tokens (b = 1 also lists its own answer's first token, which the term leaves out). */
  function withHistory(batch: TrainBatchInput, history: number[][]): TrainBatchInput {
    const offsets = new Int32Array(history.length + 1);
    history.forEach((h, b) => (offsets[b + 1] = offsets[b] + h.length));
    return { ...batch, historyTokenIds: Int32Array.from(history.flat()), historyTokenOffsets: offsets };
  }

  test("sft's history unlikelihood: token cross-entropy + weight * mean of -sum log(1 - p(history token)) at the answer's first position", async () => {
    const model = tinyModel();
    const history = [[40, 41, 42], [21, 43], []];
    const batch = withHistory(makeBatch([0, 1, 2], 3), history);
    const { tokenLogps } = await model.native.score(batch, { tokenLogps: true });
    const { nll, tokens } = chosenTokenNll(batch, tokenLogps!, 3);
    // p(h | prompt b) from scoring one-token responses [h] against the same prompts: an independent reference.
    const singles = packTrainBatch([0, 1, 2].map((e) => ({ prompt: [1 + e, 2], chosen: [20 + e, 63], rejected: [40, 41, 42, 43].map((h) => [h]) })));
    const { logps } = await model.native.score(singles, { tokenLogps: false });
    const pOf = (b: number, h: number) => Math.exp(logps[3 + b * 4 + (h - 40)]);
    let unlikelihood = 0;
    for (let b = 0; b < 3; b++) for (const h of history[b]) if (h !== 20 + b) unlikelihood -= Math.log(1 - pOf(b, h));
    const weight = 0.9;
    const t = new (native().Trainer)(model.native, { loss: "sft", historyUnlikelihood: weight });
    expect(unlikelihood).toBeGreaterThan(0);
    expect((await t.evaluate(batch)).loss).toBeCloseTo(nll / tokens + (weight * unlikelihood) / 3, 12);
    // With list smoothing too, the two first-token terms add up.
    const both = new (native().Trainer)(model.native, { loss: "sft", historyUnlikelihood: weight, listSmoothing: 0.4 });
    const smoothingOnly = new (native().Trainer)(model.native, { loss: "sft", listSmoothing: 0.4 });
    expect((await both.evaluate(batch)).loss).toBeCloseTo((await smoothingOnly.evaluate(batch)).loss + (weight * unlikelihood) / 3, 12);
    const err = await rejectionOf(t.step(makeBatch([0, 1], 0), { learningRate: 0, optimizerStep: true, weight: 1 }));
    expect(err.message).toMatch(/historyUnlikelihood > 0 needs the batch's history tokens/);
    // Evaluation on rows without history tokens (an eval file's fixed rows): the loss without the term.
    expect((await t.evaluate(makeBatch([0, 1, 2], 3))).loss).toBeCloseTo(nll / tokens, 12);
    const bad = withHistory(makeBatch([0, 1, 2], 3), history);
    bad.historyTokenIds![1] = 100000;
    expect((await rejectionOf(t.evaluate(bad))).message).toMatch(/neither -1 nor a token id/);
    bad.historyTokenIds![1] = -5;
    // The binding's conversion checks throw before the step is queued.
    expectThrows(() => t.evaluate(bad), "RangeError", /historyTokenIds\[1\] = -5 is not a token id/);
    expectThrows(() => t.evaluate({ ...bad, historyTokenOffsets: new Int32Array([0, 2]) }), "RangeError", /historyTokenOffsets must hold B \+ 1 = 4 offsets/);
    expectThrows(() => t.evaluate({ ...batch, historyTokenOffsets: undefined }), "TypeError", /historyTokenIds and historyTokenOffsets come together/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "frozen-copy", historyUnlikelihood: 1 }), "RangeError", /historyUnlikelihood is a term of the sft loss, not of sdpo/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sft", historyUnlikelihood: -1 }), "RangeError", /historyUnlikelihood must be a finite number >= 0/);
    for (const x of [t, both, smoothingOnly]) x.dispose();
  });

  test("sft's history unlikelihood: the step's gradient matches float64 central differences, alone and with list smoothing", async () => {
    const model = tinyModel();
    const batch = withHistory(makeBatch([0, 1, 2], 3), [[40, 41, 42], [21, 43], [44]]);
    await expectGradientMatchesDifferences(model, { loss: "sft", historyUnlikelihood: 2 }, batch);
    await expectGradientMatchesDifferences(model, { loss: "sft", historyUnlikelihood: 1.5, listSmoothing: 0.7 }, batch);
  });

  test("residual dropout: training steps drop out (a fresh mask each step), evaluation and the model afterwards do not", async () => {
    const model = tinyModel();
    const batch = makeBatch([0, 1, 2], 0);
    const plain = new (native().Trainer)(model.native, { loss: "sft" });
    const dropping = new (native().Trainer)(model.native, { loss: "sft", residualDropout: 0.5 });
    const evaluated = (await plain.evaluate(batch)).loss;
    expect((await dropping.evaluate(batch)).loss).toBe(evaluated);
    // lr 0 leaves the weights: a step's loss is the forward it trained on.
    const stepLoss = async (t: typeof plain) => (await t.step(batch, { learningRate: 0, optimizerStep: true, weight: 1 })).loss;
    expect(await stepLoss(plain)).toBeCloseTo(evaluated, 12);
    const first = await stepLoss(dropping);
    const second = await stepLoss(dropping);
    expect(Math.abs(first - evaluated)).toBeGreaterThan(1e-6);
    expect(Math.abs(first - second)).toBeGreaterThan(1e-6);
    // The rate is the trainer's, for its steps only.
    expect(await stepLoss(plain)).toBeCloseTo(evaluated, 12);
    const { logps } = await model.native.score(batch, { tokenLogps: false });
    expect((await plain.evaluate(batch)).loss).toBe(evaluated);
    expect(logps.every(Number.isFinite)).toBe(true);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sft", residualDropout: 1 }), "RangeError", /residualDropout must be a number in \[0, 1\)/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sft", residualDropout: -0.1 }), "RangeError", /residualDropout must be a number in \[0, 1\)/);
    plain.dispose();
    dropping.dispose();
  });

  test("the preference losses' chosen-NLL term (RPO): loss + chosenNllWeight * chosen token NLL, and its gradient", async () => {
    const model = tinyModel();
    const batch = makeBatch([0, 1, 2], 3);
    batch.rejectedIndex[4] = -1;
    const { tokenLogps } = await model.native.score(batch, { tokenLogps: true });
    const { nll, tokens } = chosenTokenNll(batch, tokenLogps!, 3);
    const weight = 0.6;
    for (const loss of ["sdpo", "napo"] as const) {
      const plain = new (native().Trainer)(model.native, { loss, referenceMode: "frozen-copy" });
      const withNll = new (native().Trainer)(model.native, { loss, referenceMode: "frozen-copy", chosenNllWeight: weight });
      // Policy = reference here, so the preference part is the same in both; the difference is the NLL term alone.
      expect((await withNll.evaluate(batch)).loss - (await plain.evaluate(batch)).loss).toBeCloseTo((weight * nll) / tokens, 12);
      plain.dispose();
      withNll.dispose();
    }
    // A reference that differs from the policy, so the preference part has a gradient of its own too.
    const { logps } = await model.native.score(batch);
    const reference = logps.map((x, i) => x + 0.3 * Math.sin(3 * i + 1));
    await expectGradientMatchesDifferences(model, { loss: "sdpo", referenceMode: "precomputed", chosenNllWeight: 1.5 }, { ...batch, referenceLogps: reference });
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sft", chosenNllWeight: 1 }), "RangeError", /chosenNllWeight is a term of the preference losses/);
    expectThrows(() => new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "frozen-copy", chosenNllWeight: -1 }), "RangeError", /chosenNllWeight must be a finite number >= 0/);
  });

  test("precomputed reference log-probs replace the reference forward", async () => {
    const model = tinyModel();
    const batch = makeBatch([0, 1], 2);
    const { logps } = await model.native.score(batch, { adapters: false });
    const frozen = new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "frozen-copy" });
    const pre = new (native().Trainer)(model.native, { loss: "sdpo", referenceMode: "precomputed" });
    const a = await frozen.evaluate(batch);
    const b = await pre.evaluate({ ...batch, referenceLogps: logps });
    expect(b.loss).toBeCloseTo(a.loss, 12);
    const shifted = await pre.evaluate({ ...batch, referenceLogps: logps.map((x, i) => (i < 2 ? x + 1 : x)) });
    expect(shifted.chosenReward).toBeCloseTo(a.chosenReward - 1, 10);
    frozen.dispose();
    pre.dispose();
  });
});
