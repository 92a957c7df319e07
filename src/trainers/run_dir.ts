/**
 * The outputDir of a run: refuse one that holds another run unless asked to overwrite it; and the record of
 * the run's training file (training_data.json), which `sdpo eval` counts item popularity on.
 */
import { createHash, randomUUID } from "crypto";
import { createReadStream, promises as fsp } from "fs";
import * as path from "path";
import { writeFileAtomic } from "../model/atomic";
import { RUN_FILE, removeStaleTemps, writeJsonAtomic } from "./checkpoint_io";
import type { LossName } from "./types";

export interface RunMarker {
  runId: string;
  loss: LossName;
  startedAt: string;
}

/** The run marker of `dir` (sdpo_run.json), if any. */
export async function readMarker(dir: string): Promise<RunMarker | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path.join(dir, RUN_FILE), "utf8")) as RunMarker;
  } catch {
    return undefined;
  }
}

async function checkpointFolders(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter((n) => /^checkpoint-\d+$/.test(n));
  } catch {
    return [];
  }
}

export function newRunId(): string {
  return randomUUID();
}

/**
 * Whether `dir` holds a run other than `runId` (undefined: a new run); returns a description of it,
 * or undefined when the folder is free (absent, empty of runs, or this run's own).
 */
export async function otherRunIn(dir: string, runId: string | undefined): Promise<string | undefined> {
  const marker = await readMarker(dir);
  const checkpoints = await checkpointFolders(dir);
  if (marker !== undefined && marker.runId !== runId) {
    const stopped = checkpoints.length === 0 ? ", stopped before its first checkpoint" : "";
    return `run ${marker.runId} (${marker.loss}, started ${marker.startedAt}${stopped})`;
  }
  if (marker === undefined && checkpoints.length > 0) return `checkpoints ${checkpoints.join(", ")}`;
  return undefined;
}

/**
 * Claims `dir` for run `runId`: fine when empty, absent, or already this run's (resume); otherwise an
 * error unless `overwrite`, which removes the other run's checkpoints and marker first.
 */
export async function claimOutputDir(dir: string, runId: string, loss: LossName, overwrite: boolean): Promise<void> {
  const other = await otherRunIn(dir, runId);
  if (other) {
    if (!overwrite) {
      throw new Error(`outputDir ${dir} already holds another ${other}; choose another folder, resume it, or pass overwrite`);
    }
    for (const name of await checkpointFolders(dir)) await fsp.rm(path.join(dir, name), { recursive: true, force: true });
    await fsp.rm(path.join(dir, RUN_FILE), { force: true });
  }
  await fsp.mkdir(dir, { recursive: true });
  await removeStaleTemps(dir);
  if (other || !(await readMarker(dir))) {
    await writeJsonAtomic(path.join(dir, RUN_FILE), { runId, loss, startedAt: new Date().toISOString() } satisfies RunMarker);
  }
}

/** The checkpoint-N folder of `dir` with the highest N, if any. */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const steps = (await checkpointFolders(dir)).map((n) => Number(n.slice("checkpoint-".length))).sort((a, b) => b - a);
  return steps.length > 0 ? path.join(dir, `checkpoint-${steps[0]}`) : undefined;
}

/**
 * Removes all but the newest `keep` checkpoint-N folders of `dir` (highest N first), as TRL's save_total_limit;
 * returns the removed folders. Each is renamed to a hidden .old- name first, so a kill mid-removal leaves no
 * half-deleted checkpoint-N that --resume could pick (removeStaleTemps clears the rest on the next start).
 */
export async function pruneCheckpoints(dir: string, keep: number): Promise<string[]> {
  const steps = (await checkpointFolders(dir)).map((n) => Number(n.slice("checkpoint-".length))).sort((a, b) => b - a);
  const removed: string[] = [];
  for (const step of steps.slice(Math.max(0, keep))) {
    const name = `checkpoint-${step}`;
    const doomed = path.join(dir, `.old-${name}-${process.pid}-${Date.now()}`);
    await fsp.rename(path.join(dir, name), doomed);
    await fsp.rm(doomed, { recursive: true, force: true });
    removed.push(path.join(dir, name));
  }
  return removed;
}

/** The run folder's record of its training file: `sdpo train` writes it, `sdpo eval` reads it (popularity bias). */
export const TRAINING_DATA_FILE = "training_data.json";

export interface TrainingDataRecord {
  /** Absolute path of the training file (--data). */
  file: string;
  /** sha256 (hex) of its bytes when training started: a file changed since then is not the one trained on. */
  sha256: string;
  /** Rows in it. */
  rows: number;
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Writes `dir`/training_data.json for training file `file` of `rows` rows (atomically). */
export async function recordTrainingData(dir: string, file: string, rows: number): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const record: TrainingDataRecord = { file: path.resolve(file), sha256: await sha256OfFile(file), rows };
  const target = path.join(dir, TRAINING_DATA_FILE);
  await writeFileAtomic(target, JSON.stringify(record, null, 2) + "\n");
}

/**
 * The training-data record of a model folder: its own training_data.json, else its parent's (a checkpoint-N
 * folder inside the run folder). Undefined when neither has one; throws when one is unreadable.
 */
export async function findTrainingDataRecord(modelFolder: string): Promise<{ record: TrainingDataRecord; where: string } | undefined> {
  for (const dir of [modelFolder, path.dirname(path.resolve(modelFolder))]) {
    const where = path.join(dir, TRAINING_DATA_FILE);
    let text: string;
    try {
      text = await fsp.readFile(where, "utf8");
    } catch {
      continue;
    }
    let record: Partial<TrainingDataRecord>;
    try {
      record = JSON.parse(text) as Partial<TrainingDataRecord>;
    } catch (err) {
      throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof record.file !== "string" || typeof record.sha256 !== "string" || !Number.isInteger(record.rows)) {
      throw new Error(`${where}: expected file, sha256 and rows`);
    }
    return { record: record as TrainingDataRecord, where };
  }
  return undefined;
}
