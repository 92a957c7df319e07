/** The outputDir of a run: refuse one that holds another run unless asked to overwrite it. */
import { randomUUID } from "crypto";
import { promises as fsp } from "fs";
import * as path from "path";
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
