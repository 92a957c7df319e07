/**
 * Runs fuzz cases in child processes under a time and an address-space limit, and sorts what came back:
 * each child prints {"id", "start": true} before a case and {"id", "outcome", ...} after it, so a child
 * that hangs or dies names the case in progress.
 */
import { spawn } from "child_process";

export interface CaseLine {
  id: number;
  start?: boolean;
  outcome?: string;
  message?: string;
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  lines: CaseLine[];
  stderr: string;
}

export interface FuzzRun {
  /** Outcome line of each case that finished, by id. */
  outcomes: Map<number, CaseLine>;
  /** Hangs, signals and abnormal exits, each naming the case in progress. */
  failures: string[];
}

export const ADDRESS_SPACE_KB = 3_000_000;

function runChild(script: string, args: string[], cases: object[], timeLimitMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", `ulimit -v ${ADDRESS_SPACE_KB} && exec "$0" "$@"`, process.execPath, script, ...args, JSON.stringify(cases)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeLimitMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines = stdout
        .split("\n")
        .filter((l) => l.trim().length > 0)
        .map((l) => JSON.parse(l) as CaseLine);
      resolve({ code, signal: timedOut ? null : signal, timedOut, lines, stderr });
    });
  });
}

/** Splits `cases` over `children` processes of `script args...` run side by side. */
export async function runFuzz(script: string, args: string[], cases: { id: number }[], children: number, timeLimitMs: number): Promise<FuzzRun> {
  const shares = Array.from({ length: children }, (_, c) => cases.filter((_, i) => i % children === c));
  const results = await Promise.all(shares.map((share) => runChild(script, args, share, timeLimitMs)));
  const outcomes = new Map<number, CaseLine>();
  const failures: string[] = [];
  for (const result of results) {
    for (const line of result.lines) if (line.outcome) outcomes.set(line.id, line);
    const stuck = result.lines.filter((l) => l.start).map((l) => l.id).find((id) => !outcomes.has(id));
    if (result.timedOut) failures.push(`hang: a child ran past ${timeLimitMs} ms in case ${stuck}`);
    else if (result.signal) failures.push(`signal ${result.signal} in case ${stuck}: ${result.stderr.slice(-500)}`);
    else if (result.code !== 0) failures.push(`exit ${result.code} in case ${stuck}: ${result.stderr.slice(-500)}`);
  }
  return { outcomes, failures };
}
