/**
 * PreferenceTrainer: the training loop of every loss. fit() runs epochs over the data in groups of
 * `gradientAccumulationSteps` micro-batches, one asynchronous native call per micro-batch (the event
 * loop stays free), an optimizer step at the end of each group, events, evaluation and checkpoints.
 * The losses differ only in their name, their number of negatives and what the loss averages over; where a
 * step's negatives come from (the data, in-batch sharing, a RoDPO pool) is StepNegatives' business.
 *
 * Data parallelism (options.distributed, under a launcher): every rank reads the same global batches of
 * batchSize x worldSize rows and trains on its strided share; the gradients are summed over the ranks in the
 * addon before clipping and AdamW, so all ranks apply the same update. Metrics are summed over the ranks
 * before they are reported; rank 0 alone writes checkpoints; a stop request on any rank stops all at one step.
 */
import * as path from "path";
import type { PreferenceBatch } from "../data/batch";
import { DataParallel } from "../distributed/data_parallel";
import { selectRows, shardPositions } from "../distributed/shard";
import type { Model } from "../model/model";
import { native, type NativeTrainer, type TrainBatchInput } from "../native";
import { readCheckpoint, writeCheckpoint, type TrainerState, STATE_FORMAT } from "./checkpoint_io";
import { TrainerEvents, type Listener, type TrainerEventName } from "./events";
import { nativeTrainerOptions, resolveOptions, RESUME_INVARIANTS, savedInvariant, type ResolvedOptions } from "./options";
import { usesCandidateNegatives } from "./option-records";
import { chosenTokenCount, packBatch } from "./pack";
import { ReferenceCache, type StoredReference } from "./reference_cache";
import { readReferenceLogps, REFERENCE_FILE, writeReferenceLogps } from "./reference_store";
import { claimOutputDir, newRunId, pruneCheckpoints } from "./run_dir";
import { learningRateAt, warmupStepsFor } from "./schedules";
import { openSource, sourceKey, type PreferenceSource, type SourceKey } from "./source";
import { StepNegatives } from "./step_negatives";
import type { NegativePool } from "../negatives/pool";
import { StatsAccumulator } from "./stats";
import type { EvalEvent, FitOptions, FitReport, LossName, PreferenceData, TrainerOptions } from "./types";

/**
 * Optimizer steps of a whole fit(): maxSteps when set, else numTrainEpochs x steps per epoch rounded up (as the
 * Hugging Face Trainer: 0.5 epoch of 5 steps is 3 steps), at least 1.
 */
export function totalStepsFor(o: Pick<ResolvedOptions, "maxSteps" | "numTrainEpochs">, stepsPerEpoch: number): number {
  if (o.maxSteps !== null) return o.maxSteps;
  // 0.3 x 10 is 3.0000000000000004 in floating point: a hair below the next whole number counts as it.
  return Math.max(1, Math.ceil(o.numTrainEpochs * stepsPerEpoch - 1e-9));
}

export abstract class PreferenceTrainer {
  abstract readonly loss: LossName;
  readonly model: Model;
  readonly options: ResolvedOptions;
  private readonly events = new TrainerEvents();
  private nativeTrainer: NativeTrainer | undefined;
  private reference: ReferenceCache | undefined;
  /** Set once fit() may have moved the weights away from the reference policy (a step, a resumed checkpoint). */
  private weightsTrained = false;
  private negatives: StepNegatives | undefined;
  private running = false;

  protected constructor(loss: LossName, options: TrainerOptions) {
    if (!options || typeof options !== "object" || !options.model || !(options.model as Model).native) {
      throw new TypeError("trainer options.model must be a Model (loadModel / createModel)");
    }
    this.model = options.model;
    const hasAdapters = this.model.native.parameterInfo().some((p) => p.isAdapter);
    this.options = resolveOptions(loss, options, hasAdapters);
    this.nativeTrainer = new (native().Trainer)(this.model.native, nativeTrainerOptions(loss, this.options));
  }

  /** The RoDPO pool of the current (or last) fit() with negativeSampling 'pool' or 'hard'. */
  get negativePool(): NegativePool | undefined {
    return this.negatives?.negativePool;
  }

  on<E extends TrainerEventName>(event: E, listener: Listener<E>): () => void {
    return this.events.on(event, listener);
  }

  off<E extends TrainerEventName>(event: E, listener: Listener<E>): void {
    this.events.off(event, listener);
  }

  /** Frees the optimizer state (the model stays usable). */
  dispose(): void {
    this.nativeTrainer?.dispose();
    this.nativeTrainer = undefined;
  }

  protected get trainer(): NativeTrainer {
    if (!this.nativeTrainer) throw new Error(`${this.constructor.name} was disposed`);
    return this.nativeTrainer;
  }

  /** Whether a batch carries rejected responses (sft only for its candidate-list term). */
  protected get usesNegatives(): boolean {
    return this.loss !== "sft" || usesCandidateNegatives(this.options);
  }

  /** Whether the loss compares the policy with a reference policy (false for sft). */
  protected get usesReference(): boolean {
    return this.loss !== "sft";
  }

  /** What the loss of a micro-batch is a mean over, so accumulated micro-batches weigh as one batch. */
  protected lossWeightOf(batch: PreferenceBatch): number {
    return this.loss === "sft" ? chosenTokenCount(batch) : batch.size;
  }

  /** A batch with the data's own negatives: always for evaluation, in training unless in-batch or pooled. Training
   *  batches must carry the history tokens historyUnlikelihood reads; evaluation batches pass them when they have
   *  them (an eval file's fixed rows do not, and its loss is then reported without that term). */
  private pack(batch: PreferenceBatch, source: SourceKey, training = false): TrainBatchInput {
    const withHistory = this.options.historyUnlikelihood > 0 && (training || batch.historyFirstTokens !== undefined);
    const packed = packBatch(batch, { withRejected: this.usesNegatives, withHistory });
    if (this.reference && this.usesReference) packed.referenceLogps = this.reference.lookup(source, batch, packed);
    return packed;
  }

  /** referenceMode "precomputed": scores the sources not scored yet, while the model is still the reference. */
  private async ensureReference(sources: { key: SourceKey; source: PreferenceSource; what: string }[]): Promise<void> {
    if (this.options.referenceMode !== "precomputed" || !this.usesReference) return;
    const cache = (this.reference ??= new ReferenceCache());
    // With every trainable parameter an adapter, adapters off is the reference policy at any time; otherwise only
    // before the first update (on resume, before the checkpoint's weights are loaded).
    const referenceIntact = !this.weightsTrained || this.model.native.parameterInfo().every((p) => !p.trainable || p.isAdapter);
    for (const { key, source, what } of sources) {
      if (cache.has(key)) continue;
      if (!referenceIntact) {
        throw new Error(
          `referenceMode "precomputed": ${what} was not scored before training changed the weights, so its reference ` +
            "log-probs are unknown; pass it to fit() as { eval } instead"
        );
      }
      await cache.add(this.model.native, key, source, { batchSize: this.options.batchSize, negatives: this.options.negatives });
    }
  }

  /** Mean loss, rewards and accuracy over `data` without updating anything. */
  async evaluate(data: PreferenceData): Promise<Omit<EvalEvent, "type" | "step" | "epoch">> {
    const source = openSource(data, "evaluate(data)");
    const key = sourceKey(data);
    await this.ensureReference([{ key, source, what: "evaluate(data)" }]);
    return this.evaluateSource(source, key);
  }

  /** With `dp` (fit() of a data-parallel run, on every rank), each rank scores its share of every batch and the
   *  sums are added up over the ranks; evaluate() alone scores everything here. */
  private async evaluateSource(source: PreferenceSource, key: SourceKey, dp: DataParallel | null = null): Promise<Omit<EvalEvent, "type" | "step" | "epoch">> {
    let acc = new StatsAccumulator();
    const o = this.options;
    const worldSize = dp?.worldSize ?? 1;
    // sft's candidate-list term with negativeSampling 'random' draws K of the candidates, as in training.
    const negativeSampling = this.loss === "sft" && o.negativeSampling === "random" ? "random" : "fixed";
    for await (const batch of source.batches({ batchSize: o.batchSize * worldSize, negatives: o.negatives, shuffle: false, seed: o.seed, epoch: 0, skipBatches: 0, negativeSampling })) {
      const shard = dp ? selectRows(batch, shardPositions(batch.size, dp.rank, worldSize)) : batch;
      if (!shard) continue;
      const stats = await this.trainer.evaluate(this.pack(shard, key));
      acc.add(stats, this.loss === "sft" ? stats.lossTokens : stats.examples);
    }
    if (dp) acc = StatsAccumulator.fromSums(await dp.allReduceSum(acc.toSums(), "evaluation sums"));
    const m = acc.mean();
    return { loss: m.loss, chosenReward: m.chosenReward, rejectedReward: m.rejectedReward, rewardAccuracy: m.rewardAccuracy, rows: m.examples };
  }

  /** Trains on `data` (a path to an .arrow file, or a PreferenceSource such as PreferenceDataset or
   *  ResampledDataset) for numTrainEpochs or maxSteps, emitting step / eval / checkpoint events. */
  async fit(data: PreferenceData, fitOptions: FitOptions = {}): Promise<FitReport> {
    if (this.running) throw new Error("fit() is already running on this trainer");
    this.running = true;
    try {
      return await this.fitOnce(data, fitOptions);
    } finally {
      this.running = false;
    }
  }

  private async fitOnce(data: PreferenceData, fitOptions: FitOptions): Promise<FitReport> {
    const o = this.options;
    const started = Date.now();
    const train = openSource(data, "fit(data)");
    const trainKey = sourceKey(data);
    const evalSource = fitOptions.eval !== undefined ? openSource(fitOptions.eval, "fit(data, { eval })") : undefined;
    const evalKey = fitOptions.eval !== undefined ? sourceKey(fitOptions.eval) : undefined;
    const numRows = await train.countRows();
    if (!(numRows >= 1)) throw new RangeError("fit(data): the training data holds no examples");
    // A pool holds one row's top-scored candidates; re-drawn rows change the candidate list every epoch and share
    // a row between its sub-sequence examples, so pooled items would not be among the list they are drawn for.
    if ((o.negativeSampling === "pool" || o.negativeSampling === "hard") && (train as { redrawsCandidates?: boolean }).redrawsCandidates === true) {
      throw new Error(
        `negativeSampling '${o.negativeSampling}' keeps a pool per row of fixed candidates, and fit(data) re-draws each row's candidates every epoch (ResampledDataset): ` +
          `train it on the file's rows (PreferenceDataset), or use negativeSampling 'fixed' / 'random'`
      );
    }
    // Precomputed log-probs belong to a row's prompt and responses; re-drawn rows change both every epoch.
    if (o.referenceMode === "precomputed" && this.usesReference && (train as { redrawsCandidates?: boolean }).redrawsCandidates === true) {
      throw new Error(
        `referenceMode 'precomputed' scores each row's prompt and responses once, and fit(data) re-draws them every epoch (ResampledDataset): ` +
          `use referenceMode 'frozen-copy' (or 'adapters-off' with LoRA)`
      );
    }
    const dp = await DataParallel.join(o.distributed, this.model.device);
    const worldSize = dp?.worldSize ?? 1;
    const isMain = !dp || dp.isMain;
    if (dp) this.trainer.attachProcessGroup({ bucketBytes: o.distributed!.bucketBytes });
    // The global batch: what one optimizer step sees over all ranks (each rank trains on its share).
    const globalBatchSize = o.batchSize * worldSize;
    const batchesPerEpoch = Math.ceil(numRows / globalBatchSize);
    const stepsPerEpoch = Math.ceil(batchesPerEpoch / o.gradientAccumulationSteps);
    const totalSteps = totalStepsFor(o, stepsPerEpoch);
    // Epochs of data the steps need (the last one may be cut short: fractional epochs, maxSteps).
    const epochsToRun = Math.ceil(totalSteps / stepsPerEpoch);
    const schedule = { type: o.lrSchedulerType, learningRate: o.learningRate, totalSteps, warmupSteps: warmupStepsFor(o.warmupRatio, totalSteps) };

    if (fitOptions.runId !== undefined && fitOptions.resumeFrom !== undefined) {
      throw new Error("fit(): pass resumeFrom (continue from a checkpoint) or runId (restart a run that has none), not both");
    }
    let runId = fitOptions.runId ?? newRunId();
    let globalStep = 0;
    let epoch = 0;
    let batchesInEpoch = 0;
    let examplesSeen = 0;
    let elapsedBefore = 0;
    let lastLoss = NaN;
    let lastEval: EvalEvent | undefined;
    const negatives = new StepNegatives(o, this.model);
    this.negatives = negatives;

    // A checkpoint is read, checked and its optimizer state loaded first; its weights only after the reference is scored.
    const ck = fitOptions.resumeFrom !== undefined ? await readCheckpoint(fitOptions.resumeFrom) : undefined;
    if (ck) {
      this.checkWorldSize(ck.state, worldSize);
      this.checkResumable(ck.state, totalSteps);
      const byName = new Set(this.model.native.parameterInfo().filter((p) => p.trainable).map((p) => p.name));
      for (const t of ck.trainable) {
        if (!byName.has(t.name)) throw new Error(`resumeFrom: ${t.name} is not a trainable parameter of this model`);
      }
      if (ck.trainable.length !== byName.size) {
        throw new Error(`resumeFrom: the checkpoint holds ${ck.trainable.length} trainable tensors, the model has ${byName.size}`);
      }
      this.trainer.loadOptimizerState(ck.optimizer);
      ({ runId, globalStep, epoch, batchesInEpoch, examplesSeen, lastLoss } = ck.state);
      elapsedBefore = ck.state.elapsedSeconds;
      lastEval = ck.state.lastEval;
      negatives.restore(ck.state.negativePool);
    }
    if (dp) {
      const shapes = this.model.native.parameterInfo().filter((p) => p.trainable).map((p) => `${p.name}:${p.shape.join("x")}:${p.dtype}`);
      const { outputDir: _out, overwrite: _ow, distributed: _d, ...shared } = o;
      await dp.checkAgreement(JSON.stringify({ loss: this.loss, shared, shapes, numRows, globalStep, config: this.model.config }));
    }
    if (o.outputDir && isMain) await claimOutputDir(o.outputDir, runId, this.loss, o.overwrite);
    // Stored reference log-probs (referenceMode "precomputed") are read back instead of scored again.
    const referenceRoles = new Map<string, SourceKey>([["train", trainKey]]);
    if (evalKey !== undefined) referenceRoles.set("eval", evalKey);
    if (ck && o.referenceMode === "precomputed" && this.usesReference) {
      const stored = await readReferenceLogps(path.join(fitOptions.resumeFrom!, REFERENCE_FILE));
      const cache = (this.reference ??= new ReferenceCache());
      for (const [role, key] of referenceRoles) {
        const scores = stored?.get(role);
        if (scores && !cache.has(key)) cache.restore(key, scores);
      }
    }
    // Before the checkpoint's weights: the model holds the weights the run started from, as the frozen copy
    // cloned at construction does. Without LoRA, scoring afterwards would make the trained policy its own reference.
    const sources = [{ key: trainKey, source: train, what: "fit(data)" }];
    if (evalSource) sources.push({ key: evalKey!, source: evalSource, what: "fit(data, { eval })" });
    await this.ensureReference(sources);
    this.weightsTrained = true;
    if (ck) {
      for (const t of ck.trainable) this.model.native.setTensor(t.name, t.dtype, t.shape, t.data);
      this.trainer.setRngState(new Uint8Array(Buffer.from(ck.state.torchRng, "base64")));
    }

    const signal = fitOptions.signal;
    let aborted = false;
    let lastSaved = fitOptions.resumeFrom !== undefined ? globalStep : -1;
    let windowStart = Date.now();
    let windowExamples = 0;
    const elapsed = () => elapsedBefore + (Date.now() - started) / 1000;
    const fractionalEpoch = () => epoch + batchesInEpoch / batchesPerEpoch;

    const stateNow = (): TrainerState => {
      // A checkpoint at the end of an epoch points at the start of the next one.
      const atEnd = batchesInEpoch >= batchesPerEpoch;
      return {
        format: STATE_FORMAT,
        runId,
        loss: this.loss,
        globalStep,
        totalSteps,
        epoch: atEnd ? epoch + 1 : epoch,
        batchesInEpoch: atEnd ? 0 : batchesInEpoch,
        batchesPerEpoch,
        examplesSeen,
        elapsedSeconds: elapsed(),
        lastLoss,
        lastEval,
        options: { ...o, loss: this.loss },
        jsRng: { seed: o.seed, epoch },
        torchRng: Buffer.from(this.trainer.rngState()).toString("base64"),
        negativePool: negatives.toJSON(),
        worldSize,
      };
    };
    const save = async () => {
      if (!o.outputDir || !isMain || lastSaved === globalStep) return;
      const trainable = this.model.native.parameterInfo().filter((p) => p.trainable);
      const reference = this.reference;
      const storeReference = reference
        ? (folder: string) => {
            const byRole = new Map<string, StoredReference>();
            for (const [role, key] of referenceRoles) {
              const scores = reference.stored(key);
              if (scores) byRole.set(role, scores);
            }
            return writeReferenceLogps(path.join(folder, REFERENCE_FILE), byRole);
          }
        : undefined;
      const dir = await writeCheckpoint(o.outputDir, this.model, this.trainer, trainable, stateNow(), storeReference);
      lastSaved = globalStep;
      if (o.saveTotalLimit !== null) await pruneCheckpoints(o.outputDir, o.saveTotalLimit);
      this.events.emit("checkpoint", { type: "checkpoint", step: globalStep, path: dir });
    };
    const runEval = async () => {
      if (!evalSource) return;
      const result = await this.evaluateSource(evalSource, evalKey!, dp);
      lastEval = { type: "eval", step: globalStep, epoch: fractionalEpoch(), ...result };
      this.events.emit("eval", lastEval);
    };
    /** One optimizer step over `group`; false (nothing done) when a stop was requested, on any rank. */
    const optimizerStep = async (group: PreferenceBatch[]): Promise<boolean> => {
      // This rank's rows of each global batch (null: none left for it in a short last batch).
      const positions = dp ? group.map((b) => shardPositions(b.size, dp.rank, worldSize)) : null;
      const shards = dp ? group.map((b, i) => selectRows(b, positions![i])) : group;
      const weights = shards.map((b) => (b ? this.lossWeightOf(b) : 0));
      let total = weights.reduce((a, b) => a + b, 0);
      let syncSeconds = 0;
      const timed = async <T>(collective: Promise<T>): Promise<T> => {
        const t0 = process.hrtime.bigint();
        const value = await collective;
        syncSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
        return value;
      };
      // Each micro-batch weighs its share of the whole step over all ranks: the summed gradients are the mean.
      // The same sum carries stop requests, so that ranks stop together instead of waiting on one another.
      let stops = signal?.aborted ? 1 : 0;
      if (dp) [total, stops] = await timed(dp.allReduceSum([total, stops], `loss weights of optimizer step ${globalStep + 1}`));
      if (stops > 0) return false;
      if (!(total > 0)) throw new RangeError(`rows ${group[0].rows[0]}..: the chosen responses of this step have no tokens`);
      const learningRate = learningRateAt(globalStep, schedule);
      // The step sums its own micro-batches only: a step that failed part-way (here or in an earlier fit())
      // may have left gradients behind.
      await this.trainer.zeroGrad();
      let acc = new StatsAccumulator();
      let gradNorm = NaN;
      const pooled = this.usesNegatives && negatives.pooled;
      for (let i = 0; i < shards.length; i++) {
        const last = i === shards.length - 1;
        const shard = shards[i];
        // Pooled negatives are drawn for the whole global batch on every rank (step_negatives.ts).
        const drawn = pooled ? await negatives.drawPool(group[i], globalStep, dp ? { group: dp, shard, positions: positions![i] } : undefined) : null;
        if (!shard) {
          // Every rank takes part in the step's gradient sum, with or without rows of its own.
          if (last) {
            const stats = await this.trainer.applyUpdate({ learningRate });
            gradNorm = stats.gradNorm;
            syncSeconds += stats.gradSyncSeconds;
          }
          continue;
        }
        const input = drawn
          ? negatives.poolInput(shard, dp ? positions![i].map((p) => drawn[p]) : drawn)
          : this.usesNegatives && negatives.buildsNegatives
            ? await negatives.forStep(shard, globalStep, i)
            : this.pack(shard, trainKey, true);
        const stats = await this.trainer.step(input, { learningRate, optimizerStep: last, weight: weights[i] / total });
        acc.add(stats, weights[i]);
        if (last) {
          gradNorm = stats.gradNorm;
          syncSeconds += stats.gradSyncSeconds;
        }
      }
      if (dp) acc = StatsAccumulator.fromSums(await timed(dp.allReduceSum(acc.toSums(), `metrics of optimizer step ${globalStep + 1}`)));
      globalStep++;
      batchesInEpoch += group.length;
      const m = acc.mean();
      examplesSeen += m.examples;
      windowExamples += m.examples;
      lastLoss = m.loss;
      if (globalStep % o.logSteps === 0 || globalStep === totalSteps) {
        const now = Date.now();
        this.events.emit("step", {
          type: "step",
          step: globalStep,
          epoch: fractionalEpoch(),
          loss: m.loss,
          chosenReward: m.chosenReward,
          rejectedReward: m.rejectedReward,
          rewardAccuracy: m.rewardAccuracy,
          rewardMargin: m.rewardMargin,
          learningRate,
          gradNorm,
          examplesPerSecond: windowExamples / Math.max(1e-9, (now - windowStart) / 1000),
          syncSeconds,
          totalSteps,
          elapsedSeconds: elapsed(),
        });
        windowStart = now;
        windowExamples = 0;
      }
      if (o.evalSteps > 0 && globalStep % o.evalSteps === 0) await runEval();
      if (o.saveSteps > 0 && globalStep % o.saveSteps === 0) await save();
      return true;
    };

    training: for (; epoch < epochsToRun && globalStep < totalSteps; epoch++, batchesInEpoch = 0) {
      const negativeSampling = o.negativeSampling === "random" ? "random" : "fixed";
      const batches = train.batches({ batchSize: globalBatchSize, negatives: o.negatives, shuffle: true, seed: o.seed, epoch, skipBatches: batchesInEpoch, negativeSampling });
      let group: PreferenceBatch[] = [];
      for await (const batch of batches) {
        group.push(batch);
        if (group.length < o.gradientAccumulationSteps) continue;
        if (!(await optimizerStep(group))) {
          aborted = true;
          break training;
        }
        group = [];
        // The step budget (fractional epochs, maxSteps) can end an epoch early; its evaluation still runs.
        if (globalStep >= totalSteps) break;
      }
      if (group.length > 0 && globalStep < totalSteps && !(await optimizerStep(group))) {
        aborted = true;
        break;
      }
      if (o.evalSteps === 0) await runEval();
      if (globalStep >= totalSteps && batchesInEpoch < batchesPerEpoch) break;
    }
    if (!aborted) await save();
    const seconds = (Date.now() - started) / 1000;
    return {
      steps: globalStep,
      epochs: fractionalEpoch(),
      aborted,
      finalLoss: lastLoss,
      lastEval,
      examplesPerSecond: seconds > 0 ? examplesSeen / Math.max(elapsed(), 1e-9) : 0,
      seconds,
      outputDir: o.outputDir,
    };
  }

  /** A checkpoint of W ranks x batchSize b resumes exactly on W' x b' = W x b (the same global batches). */
  private checkWorldSize(state: TrainerState, worldSize: number): void {
    const savedWorld = state.worldSize ?? 1;
    const savedBatch = Number((state.options as Record<string, unknown>).batchSize);
    if (savedWorld * savedBatch !== worldSize * this.options.batchSize) {
      throw new Error(
        `resumeFrom: the global batch (ranks x batchSize) differs from the checkpoint's, so the data order and schedule cannot continue ` +
          `(batchSize: checkpoint ${savedBatch}, now ${this.options.batchSize}; ranks: checkpoint ${savedWorld}, now ${worldSize})`,
      );
    }
  }

  private checkResumable(state: TrainerState, totalSteps: number): void {
    if (state.loss !== this.loss) throw new Error(`resumeFrom: the checkpoint was trained with ${state.loss}, this trainer is ${this.loss}`);
    const saved = state.options as Record<string, unknown>;
    const mismatched = RESUME_INVARIANTS.filter((k) => savedInvariant(saved, k) !== JSON.stringify(this.options[k]));
    if (mismatched.length > 0) {
      const list = mismatched.map((k) => `${k}: checkpoint ${savedInvariant(saved, k)}, now ${JSON.stringify(this.options[k])}`).join("; ");
      throw new Error(`resumeFrom: options differ from the checkpoint's, so the run cannot continue exactly (${list})`);
    }
    if (state.totalSteps !== totalSteps) {
      throw new Error(`resumeFrom: the data gives ${totalSteps} steps in all, the checkpoint's run had ${state.totalSteps} (different data?)`);
    }
  }
}
