/** The outputDir of a run: refuse one that holds another run unless asked to overwrite it. */
import { randomUUID } from "crypto";
import { promises as fsp } from "fs";
import * as path from "path";
import { RUN_FILE, removeStaleTemps, writeJsonAtomic } from "./checkpoint_io";
import type { LossName } from "./types";

interface RunMarker {
  runId: string;
  loss: LossName;
  startedAt: string;
}

async function readMarker(dir: string): Promise<RunMarker | undefined> {
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
 * Claims `dir` for run `runId`: fine when empty, absent, or already this run's (resume); otherwise an
 * error unless `overwrite`, which removes the other run's checkpoints and marker first.
 */
export async function claimOutputDir(dir: string, runId: string, loss: LossName, overwrite: boolean): Promise<void> {
  const marker = await readMarker(dir);
  const checkpoints = await checkpointFolders(dir);
  const foreign = (marker !== undefined && marker.runId !== runId) || (marker === undefined && checkpoints.length > 0);
  if (foreign) {
    if (!overwrite) {
      const what = marker ? `run ${marker.runId} (${marker.loss}, started ${marker.startedAt})` : `checkpoints ${checkpoints.join(", ")}`;
      throw new Error(`outputDir ${dir} already holds another ${what}; choose another folder, resume it, or pass overwrite`);
    }
    for (const name of checkpoints) await fsp.rm(path.join(dir, name), { recursive: true, force: true });
    await fsp.rm(path.join(dir, RUN_FILE), { force: true });
  }
  await fsp.mkdir(dir, { recursive: true });
  await removeStaleTemps(dir);
  if (!marker || foreign) {
    await writeJsonAtomic(path.join(dir, RUN_FILE), { runId, loss, startedAt: new Date().toISOString() } satisfies RunMarker);
  }
}
