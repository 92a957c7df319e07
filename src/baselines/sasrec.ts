/**
 * The SASRec baseline (Kang & McAuley 2018, as the LLM-recommendation papers report it, e.g. LLaRA): a small
 * causal transformer over item ids trained with cross-entropy on next items.
 *
 * It is the package's own decoder (presetConfig "tiny") with an item vocabulary: token i is item i, and one
 * special token after the items (BOS, id = item count) starts every sequence. The SFT trainer fits it on
 * next-item examples (next-item-source.ts); a candidate's score is the log-probability of its one token
 * after [BOS, history...] (model.native.score). Everything is seeded: the weights' initialisation, the
 * example order and the trainer.
 */
import * as path from "path";
import { createModel, loadModel, saveModel } from "../model/checkpoint";
import { presetConfig } from "../model/config";
import type { Model } from "../model/model";
import type { DeviceName } from "../native";
import { createTrainer } from "../trainers/registry";
import { BASELINE_FORMAT, checkRowItems, type Baseline, type BaselineSource } from "./baseline";
import { NextItemSource } from "./next-item-source";
import type { RecommendationRow } from "./rows";
import { writeBaselineFolder } from "./store";

/** Specials after the item tokens. */
export const SASREC_SPECIALS = ["<bos>"] as const;

export interface SasrecOptions {
  seed?: number; // default 0
  preset?: "tiny" | "small"; // default "tiny" (64 wide, 2 layers, 4 heads)
  epochs?: number; // default 3
  learningRate?: number; // default 3e-3
  batchSize?: number; // examples per step, default 256 (few, large steps: a step's fixed cost dominates at this size)
  weightDecay?: number; // default 0
  warmupRatio?: number; // default 0.05
  device?: DeviceName; // default "cpu"
  /** Called after every optimizer step (progress). */
  onStep?: (step: number, totalSteps: number, loss: number) => void;
}

export interface SasrecTraining {
  seed: number;
  preset: "tiny" | "small";
  epochs: number;
  learningRate: number;
  batchSize: number;
  weightDecay: number;
  warmupRatio: number;
  examples: number;
  finalLoss: number;
  seconds: number;
}

function resolve(options: SasrecOptions): Omit<SasrecTraining, "examples" | "finalLoss" | "seconds"> {
  const o = {
    seed: options.seed ?? 0,
    preset: options.preset ?? "tiny",
    epochs: options.epochs ?? 3,
    learningRate: options.learningRate ?? 3e-3,
    batchSize: options.batchSize ?? 256,
    weightDecay: options.weightDecay ?? 0,
    warmupRatio: options.warmupRatio ?? 0.05,
  };
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new RangeError(`sasrec: seed must be a non-negative integer, got ${o.seed}`);
  if (o.preset !== "tiny" && o.preset !== "small") throw new RangeError(`sasrec: preset must be "tiny" or "small", got ${JSON.stringify(o.preset)}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new RangeError(`sasrec: epochs must be a positive integer, got ${o.epochs}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new RangeError(`sasrec: batchSize must be a positive integer, got ${o.batchSize}`);
  if (!(o.learningRate > 0 && Number.isFinite(o.learningRate))) throw new RangeError(`sasrec: learningRate must be positive, got ${o.learningRate}`);
  return o;
}

export class SasrecBaseline implements Baseline {
  readonly kind = "sasrec" as const;

  constructor(readonly source: BaselineSource, readonly model: Model, readonly training: SasrecTraining) {
    const expected = source.itemCount + SASREC_SPECIALS.length;
    if (model.native.config.vocab_size !== expected) {
      throw new RangeError(`sasrec: the model's vocabulary has ${model.native.config.vocab_size} tokens, expected ${expected} (items + specials)`);
    }
  }

  get bos(): number {
    return this.source.itemCount;
  }

  static async fit(rows: readonly RecommendationRow[], source: BaselineSource, options: SasrecOptions = {}): Promise<SasrecBaseline> {
    const o = resolve(options);
    const started = Date.now();
    const sequences = rows.map((row) => {
      const seq = new Int32Array(row.history.length + 1);
      seq.set(row.history);
      seq[row.history.length] = row.target;
      return seq;
    });
    const data = new NextItemSource(sequences, source.itemCount);
    const model = createModel(presetConfig(o.preset, source.itemCount + SASREC_SPECIALS.length), { seed: o.seed, device: options.device });
    try {
      const trainer = createTrainer("sft", {
        model,
        learningRate: o.learningRate,
        batchSize: o.batchSize,
        numTrainEpochs: o.epochs,
        weightDecay: o.weightDecay,
        warmupRatio: o.warmupRatio,
        seed: o.seed,
        logSteps: 1,
      });
      try {
        if (options.onStep) trainer.on("step", (e) => options.onStep!(e.step, e.totalSteps, e.loss));
        const report = await trainer.fit(data);
        const training = { ...o, examples: await data.countRows(), finalLoss: report.finalLoss, seconds: (Date.now() - started) / 1000 };
        return new SasrecBaseline(source, model, training);
      } finally {
        trainer.dispose();
      }
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  /** log p(candidate | BOS, history) for every candidate of every row, `chunk` rows per native call. */
  async scoreRows(rows: readonly RecommendationRow[], chunk = 64): Promise<Float64Array[]> {
    checkRowItems(rows, this.source.itemCount, "sasrec");
    const out: Float64Array[] = [];
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk);
      const promptOffsets = new Int32Array(part.length + 1);
      part.forEach((row, b) => (promptOffsets[b + 1] = promptOffsets[b] + 1 + row.history.length));
      const promptIds = new Int32Array(promptOffsets[part.length]);
      const candidateCount = part.reduce((n, row) => n + row.candidates.length, 0);
      const responseIds = new Int32Array(candidateCount);
      const responsePrompt = new Int32Array(candidateCount);
      let r = 0;
      part.forEach((row, b) => {
        promptIds[promptOffsets[b]] = this.bos;
        promptIds.set(row.history, promptOffsets[b] + 1);
        for (const c of row.candidates) {
          responseIds[r] = c;
          responsePrompt[r++] = b;
        }
      });
      const responseOffsets = Int32Array.from({ length: candidateCount + 1 }, (_, i) => i);
      const { logps } = await this.model.native.score({ promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt });
      r = 0;
      for (const row of part) {
        out.push(Float64Array.from(logps.subarray(r, r + row.candidates.length)));
        r += row.candidates.length;
      }
    }
    return out;
  }

  async save(dir: string, options: { overwrite?: boolean } = {}): Promise<void> {
    await writeBaselineFolder(
      dir,
      { format: BASELINE_FORMAT, kind: this.kind, source: this.source, specials: [...SASREC_SPECIALS], training: this.training },
      options,
      // The temp folder exists (empty): saveModel replaces it with the model files, then baseline.json joins them.
      (temp) => saveModel(this.model, temp, { overwrite: true })
    );
  }

  dispose(): void {
    if (!this.model.disposed) this.model.dispose();
  }

  static async load(dir: string, json: Record<string, unknown>, source: BaselineSource, options: { device?: DeviceName } = {}): Promise<SasrecBaseline> {
    const specials = json.specials;
    if (JSON.stringify(specials) !== JSON.stringify(SASREC_SPECIALS)) {
      throw new Error(`${path.join(dir, "baseline.json")}: "specials" is ${JSON.stringify(specials)}, expected ${JSON.stringify(SASREC_SPECIALS)}`);
    }
    const training = json.training as SasrecTraining | undefined;
    if (training === null || typeof training !== "object" || !Number.isInteger(training.seed)) {
      throw new Error(`${path.join(dir, "baseline.json")}: "training" must describe the training run (seed, epochs, ...)`);
    }
    const model = await loadModel(dir, { device: options.device, tokenizer: false });
    try {
      return new SasrecBaseline(source, model, training);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
}
