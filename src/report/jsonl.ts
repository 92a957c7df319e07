/**
 * JSONL training log: one JSON object per line for every step, eval and checkpoint event, written with
 * a synchronous append so each line is in the file (the OS's) as soon as the event fires, and a crash or
 * Ctrl-C loses nothing already reported.
 */
import * as fs from "fs";
import * as path from "path";
import { subscribe, type TrainerEventSource } from "./events";

export interface JsonlWriter {
  readonly path: string;
  /** Appends one object as one line (adds `time`, an ISO timestamp, unless present). */
  write(record: Record<string, unknown>): void;
  close(): void;
}

/** JSON with non-finite numbers written as null (JSON has no NaN / Infinity) instead of failing. */
function line(record: Record<string, unknown>): string {
  return JSON.stringify(record, (_key, value) => (typeof value === "number" && !Number.isFinite(value) ? null : value)) + "\n";
}

/** Opens `file` for appending (creating its folder) and returns a line writer. */
export function openJsonl(file: string): JsonlWriter {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let fd: number | undefined = fs.openSync(file, "a");
  return {
    path: file,
    write(record) {
      if (fd === undefined) throw new Error(`JSONL log ${file} is closed`);
      const withTime = "time" in record ? record : { ...record, time: new Date().toISOString() };
      fs.writeSync(fd, line(withTime));
    },
    close() {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  };
}

/** Logs every step / eval / checkpoint event of `trainer` to `file`; returns the writer (close it after fit). */
export function attachJsonlLog(trainer: TrainerEventSource, file: string): JsonlWriter & { detach(): void } {
  const writer = openJsonl(file);
  const detach = subscribe(trainer, {
    step: (e) => writer.write({ ...e }),
    eval: (e) => writer.write({ ...e }),
    checkpoint: (e) => writer.write({ ...e }),
  });
  return {
    ...writer,
    path: file,
    detach,
    close() {
      detach();
      writer.close();
    },
  };
}

/** Reads a JSONL file back; a line that is not JSON is an error naming the file and line. */
export function readJsonl(file: string): Record<string, unknown>[] {
  const text = fs.readFileSync(file, "utf8");
  const records: Record<string, unknown>[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    try {
      records.push(JSON.parse(raw) as Record<string, unknown>);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not a JSON line (${(err as Error).message})`);
    }
  });
  return records;
}

/**
 * Drops the records of `file` past optimizer step `step` (and lines that are not JSON: a line torn by a kill),
 * so a run resumed from checkpoint-`step` does not log the steps it redoes twice. The file is rewritten through
 * a temporary file and a rename, so a reader sees the old log or the new one, never half of one. Returns the
 * number of lines dropped (0: the file is left as it was); a missing file is nothing to trim.
 */
export function trimJsonlAfterStep(file: string, step: number): number {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  const kept: string[] = [];
  let dropped = 0;
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch {
      dropped++;
      continue;
    }
    const at = (record as { step?: unknown } | null)?.step;
    if (typeof at === "number" && at > step) dropped++;
    else kept.push(raw + "\n");
  }
  if (dropped === 0) return 0;
  const temp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(temp, "w");
    try {
      fs.writeSync(fd, kept.join(""));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  return dropped;
}
