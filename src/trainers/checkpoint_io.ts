/**
 * Trainer checkpoints: outputDir/checkpoint-<step>/ holds
 *   the model as a Hugging Face folder (saveModel: config.json, *.safetensors, tokenizer, adapters),
 *   trainable.safetensors   the trainable parameters exactly as trained (unmerged LoRA factors, full dtype),
 *   optimizer.safetensors   AdamW moments, with the step count in its metadata,
 *   trainer_state.json      step, epoch, position in the data, options, RNG states.
 * A checkpoint is written into a hidden temp folder beside it and renamed into place, so a kill at any
 * moment leaves either the previous checkpoints alone or the new one complete.
 */
import { promises as fsp } from "fs";
import * as path from "path";
import type { Model } from "../model/model";
import { saveModel } from "../model/checkpoint";
import { readSafetensors, writeSafetensors } from "../model/safetensors";
import type { NativeTrainer, OptimizerState, SafetensorsDType } from "../native";
import type { PoolCheckpoint } from "./step_negatives";
import type { EvalEvent, LossName } from "./types";

export const TRAINER_STATE_FILE = "trainer_state.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const TRAINABLE_FILE = "trainable.safetensors";
/** Marks an outputDir as holding a run, so a second run does not write over it by accident. */
export const RUN_FILE = "sdpo_run.json";
export const STATE_FORMAT = "softmax-dpo-trainer-state/1";

export interface TrainerState {
  format: typeof STATE_FORMAT;
  runId: string;
  loss: LossName;
  globalStep: number;
  totalSteps: number;
  /** Epoch being trained (0-based) and micro-batches of it already consumed. */
  epoch: number;
  batchesInEpoch: number;
  batchesPerEpoch: number;
  examplesSeen: number;
  elapsedSeconds: number;
  lastLoss: number;
  lastEval?: EvalEvent;
  /** Options of the run (without the model). */
  options: Record<string, unknown>;
  /** The data order depends only on (seed, epoch): this is the whole JS random state. */
  jsRng: { seed: number; epoch: number };
  /** Base64 of the torch generator state (LoRA dropout). */
  torchRng: string;
  /** negativeSampling 'pool' / 'hard': the pools, their refresh steps and the sampler's generator. */
  negativePool?: PoolCheckpoint;
  /** Data-parallel ranks of the run (absent: 1); the global batch is batchSize x worldSize. */
  worldSize?: number;
}

export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/** Removes half-written checkpoints a killed run left behind. */
export async function removeStaleTemps(outputDir: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await fsp.readdir(outputDir);
  } catch {
    return;
  }
  for (const name of entries) {
    // Ours (.tmp-/.old-checkpoint-N-...) and saveModel's (..tmp-checkpoint-N-...).
    if (/^\.+(tmp|old)-checkpoint-/.test(name)) {
      await fsp.rm(path.join(outputDir, name), { recursive: true, force: true });
    }
  }
}

export async function writeCheckpoint(
  outputDir: string,
  model: Model,
  trainer: NativeTrainer,
  trainable: { name: string }[],
  state: TrainerState
): Promise<string> {
  const name = checkpointName(state.globalStep);
  const final = path.join(outputDir, name);
  const temp = path.join(outputDir, `.tmp-${name}-${process.pid}-${Date.now()}`);
  await fsp.mkdir(outputDir, { recursive: true });
  try {
    // The wrapper's parts, so saveModel finds the tokenizer and source folder whatever the Model class grows.
    await saveModel({ native: model.native, path: model.path, tokenizer: model.tokenizer }, temp);
    await fsp.mkdir(temp, { recursive: true });
    const params = trainable.map((p) => ({ name: p.name, ...model.native.getTensor(p.name) }));
    await writeSafetensors(path.join(temp, TRAINABLE_FILE), params, { format: STATE_FORMAT });
    const optimizer = trainer.optimizerState();
    await writeSafetensors(path.join(temp, OPTIMIZER_FILE), optimizer.tensors, {
      format: STATE_FORMAT,
      step: String(optimizer.step),
    });
    await writeJsonSynced(path.join(temp, TRAINER_STATE_FILE), state);
    await syncDir(temp);
    // Replace a checkpoint of the same step (a resumed run saving again) without a gap.
    let old: string | undefined;
    if (await exists(final)) {
      old = path.join(outputDir, `.old-${name}-${process.pid}-${Date.now()}`);
      await fsp.rename(final, old);
    }
    await fsp.rename(temp, final);
    await syncDir(outputDir);
    if (old) await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    await fsp.rm(temp, { recursive: true, force: true });
    throw err;
  }
  return final;
}

export interface LoadedCheckpoint {
  state: TrainerState;
  optimizer: OptimizerState;
  trainable: { name: string; dtype: SafetensorsDType; shape: number[]; data: Uint8Array }[];
}

export async function readCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const statePath = path.join(dir, TRAINER_STATE_FILE);
  let text: string;
  try {
    text = await fsp.readFile(statePath, "utf8");
  } catch {
    throw new Error(`resumeFrom: ${dir} is not a trainer checkpoint (no ${TRAINER_STATE_FILE})`);
  }
  let state: TrainerState;
  try {
    state = JSON.parse(text) as TrainerState;
  } catch (err) {
    throw new Error(`resumeFrom: ${statePath} is not valid JSON (${(err as Error).message})`);
  }
  if (state.format !== STATE_FORMAT) {
    throw new Error(`resumeFrom: ${statePath} has format '${String(state.format)}', expected '${STATE_FORMAT}'`);
  }
  const opt = await readSafetensors(path.join(dir, OPTIMIZER_FILE));
  const step = Number(opt.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new Error(`resumeFrom: ${OPTIMIZER_FILE} has no valid step in its metadata`);
  const asBytes = (t: { name: string; dtype: SafetensorsDType; shape: number[]; data: ArrayBufferView }) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  });
  const trainable = await readSafetensors(path.join(dir, TRAINABLE_FILE));
  return { state, optimizer: { step, tensors: opt.tensors.map(asBytes) }, trainable: trainable.tensors.map(asBytes) };
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function writeJsonSynced(file: string, value: unknown): Promise<void> {
  const handle = await fsp.open(file, "w");
  try {
    await handle.writeFile(JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n");
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  }
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await writeJsonSynced(temp, value);
  await fsp.rename(temp, file);
}
