/**
 * Runs fuzz cases in child processes under a time and an address-space limit (addressSpaceLimitKb), and sorts
 * what came back:
 * each child prints {"id", "start": true} before a case and {"id", "outcome", ...} after it, so a child
 * that hangs or dies names the case in progress.
 */
import { spawn, spawnSync } from "child_process";
import * as path from "path";

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

/** What a case may allocate beyond a process that has loaded the native binary. */
export const HEADROOM_KB = 1_000_000;

let limitKb: number | undefined;
/**
 * The children's address-space limit: the virtual size of a node process with the native binary loaded plus
 * HEADROOM_KB. Measured once, because a CUDA libtorch maps several GB of libraries where a CPU one maps a few
 * hundred MB, and a fixed cap that fits one refuses to even load the other.
 */
export function addressSpaceLimitKb(): number {
  if (limitKb !== undefined) return limitKb;
  const probe = `require(${JSON.stringify(path.resolve(__dirname, "../src/native/load.ts"))}).native();
    console.log(/VmSize:\\s*(\\d+)/.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1]);`;
  const run = spawnSync(process.execPath, ["-r", path.resolve(__dirname, "ts-register.js"), "-e", probe], { encoding: "utf8", timeout: 60000 });
  const loadedKb = Number(run.stdout.trim());
  if (run.status !== 0 || !Number.isFinite(loadedKb) || loadedKb <= 0) throw new Error(`could not measure a loaded process's size: ${run.stderr.slice(-500)}`);
  limitKb = loadedKb + HEADROOM_KB;
  return limitKb;
}

function runChild(script: string, args: string[], cases: object[], timeLimitMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", `ulimit -v ${addressSpaceLimitKb()} && exec "$0" "$@"`, process.execPath, script, ...args, JSON.stringify(cases)], {
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
