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
