/**
 * Trainer checkpoints: outputDir/checkpoint-<step>/ holds
 *   the model as a Hugging Face folder (saveModel: config.json, *.safetensors, tokenizer, adapters),
 *   trainable.safetensors   the trainable parameters exactly as trained (unmerged LoRA factors, full dtype),
 *   optimizer.safetensors   AdamW moments, with the step count in its metadata,
 *   trainer_state.json      step, epoch, position in the data, options, RNG states.
 * A checkpoint is written into a hidden temp folder beside it and renamed into place (src/model/atomic.ts), so a
 * kill at any moment leaves either the previous checkpoints alone or the new one complete.
 */
import { promises as fsp } from "fs";
import * as path from "path";
import { recoverInterruptedWrites, writeFileAtomic, writeFolderAtomic } from "../model/atomic";
import type { Model } from "../model/model";
import { writeModelFolder } from "../model/save";
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

/**
 * Cleans up after a run killed while writing a checkpoint: the temp folders writeFolderAtomic left of dead
 * processes (.checkpoint-N.tmp-<pid>-...; a checkpoint moved aside goes back if its replacement never arrived),
 * and those of earlier versions of this package (.tmp-/.old-checkpoint-N-..., ..tmp-checkpoint-N-...).
 */
export async function removeStaleTemps(outputDir: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await fsp.readdir(outputDir);
  } catch {
    return;
  }
  const checkpoints = new Set<string>();
  for (const name of entries) {
    if (/^\.+(tmp|old)-checkpoint-/.test(name)) await fsp.rm(path.join(outputDir, name), { recursive: true, force: true });
    const temp = /^\.(checkpoint-\d+)\.tmp-/.exec(name);
    if (temp) checkpoints.add(temp[1]);
  }
  for (const name of checkpoints) await recoverInterruptedWrites(path.join(outputDir, name));
}

/** trainer_state.json's text: non-finite numbers (a NaN loss) written as null, which JSON has. */
function stateJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n";
}

export async function writeCheckpoint(
  outputDir: string,
  model: Model,
  trainer: NativeTrainer,
  trainable: { name: string }[],
  state: TrainerState,
  /** Writes further files of the checkpoint into its temp folder (the stored reference log-probs). */
  writeExtra?: (folder: string) => Promise<void>
): Promise<string> {
  const final = path.join(outputDir, checkpointName(state.globalStep));
  // overwrite: a resumed run saving the same step again replaces it without a gap.
  await writeFolderAtomic(final, { overwrite: true, caller: "writeCheckpoint" }, async (temp) => {
    // The wrapper's parts, so the tokenizer and source folder are found whatever the Model class grows.
    await writeModelFolder({ native: model.native, path: model.path, tokenizer: model.tokenizer }, temp);
    const params = trainable.map((p) => ({ name: p.name, ...model.native.getTensor(p.name) }));
    await writeSafetensors(path.join(temp, TRAINABLE_FILE), params, { format: STATE_FORMAT });
    const optimizer = trainer.optimizerState();
    await writeSafetensors(path.join(temp, OPTIMIZER_FILE), optimizer.tensors, {
      format: STATE_FORMAT,
      step: String(optimizer.step),
    });
    if (writeExtra) await writeExtra(temp);
    await writeFileAtomic(path.join(temp, TRAINER_STATE_FILE), stateJson(state));
  });
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

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, stateJson(value));
}
