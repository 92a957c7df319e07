/**
 * `sdpo train --nproc N` without torchrun: N copies of the same command on this machine, each with the
 * launch variables torchrun would set (RANK = LOCAL_RANK, WORLD_SIZE = LOCAL_WORLD_SIZE = N, MASTER_ADDR
 * 127.0.0.1, MASTER_PORT a free port unless given). Nothing more of a launcher: no restarts, no elasticity.
 * The ranks notice a dead peer themselves (the process group's timeout); the first failure's status is ours.
 */
import { spawn } from "child_process";
import * as net from "net";
import { constants } from "os";

/** A TCP port free on the loopback interface right now (the OS picks it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free loopback port"))));
    });
  });
}

/**
 * The environment of `nproc` CPU ranks sharing this machine's `cores`: each gets its share of the cores for its
 * threads (at least one), where the caller has not chosen. OpenBLAS sizes its own thread pool when it loads, from
 * OPENBLAS_NUM_THREADS, else every core: N ranks each with a pool of every core contend for the cores. Measured on
 * 2 cores (the demo's SFT, 2 ranks): 322 examples/s with the default pools, 508 with one BLAS thread per rank, and
 * 400 for one process alone. With another BLAS the addon's intra-op threads are every core unless
 * SDPO_NUM_THREADS says, so that is set too.
 */
export function localRankThreadsEnv(env: NodeJS.ProcessEnv, nproc: number, cores: number, blasThreading: string): NodeJS.ProcessEnv {
  const share = String(Math.max(1, Math.floor(cores / nproc)));
  const out = { ...env };
  if (out.OPENBLAS_NUM_THREADS === undefined) out.OPENBLAS_NUM_THREADS = share;
  if (blasThreading !== "openblas-pthreads" && out.SDPO_NUM_THREADS === undefined && out.OMP_NUM_THREADS === undefined) out.SDPO_NUM_THREADS = share;
  return out;
}

export interface LocalRanksResult {
  /** Exit status of each rank (signal: 128 + number, as a shell reports it). */
  statuses: number[];
  /** The first non-zero status, else 0. */
  status: number;
}

/**
 * Runs `command args` as ranks 0..nproc-1 and waits for all of them. Their stdout and stderr are this process's,
 * or with `output`, piped into that stream (a caller that collects what it prints).
 */
export async function spawnLocalRanks(
  command: string,
  args: string[],
  nproc: number,
  masterPort?: number,
  env: NodeJS.ProcessEnv = process.env,
  output?: NodeJS.WritableStream
): Promise<LocalRanksResult> {
  if (!Number.isInteger(nproc) || nproc < 1 || nproc > 1024) throw new RangeError(`--nproc must be a whole number in [1, 1024], got ${nproc}`);
  const port = masterPort ?? (await freeLoopbackPort());
  const exits = Array.from({ length: nproc }, (_, rank) => {
    const child = spawn(command, args, {
      stdio: output ? ["inherit", "pipe", "pipe"] : "inherit",
      env: {
        ...env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(nproc),
        LOCAL_WORLD_SIZE: String(nproc),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
      },
    });
    if (output) {
      // Written chunk by chunk: `output` need only have write() (a caller's quiet stub, a test's collector).
      child.stdout?.on("data", (chunk: Buffer) => output.write(chunk));
      child.stderr?.on("data", (chunk: Buffer) => output.write(chunk));
    }
    return new Promise<number>((resolve) => {
      child.once("error", (err) => {
        process.stderr.write(`sdpo: rank ${rank} could not start: ${err.message}\n`);
        resolve(127);
      });
      child.once("close", (code: number | null, signal: NodeJS.Signals | null) => resolve(code ?? 128 + (signal ? osSignalNumber(signal) : 0)));
    });
  });
  // Ctrl-C reaches every rank from the terminal and each stops at the same step; this process waits for them.
  const waitForRanks = () => undefined;
  process.on("SIGINT", waitForRanks);
  let statuses: number[];
  try {
    statuses = await Promise.all(exits);
  } finally {
    process.removeListener("SIGINT", waitForRanks);
  }
  const failed = statuses.findIndex((s) => s !== 0);
  if (failed >= 0) process.stderr.write(`sdpo: rank ${failed} of ${nproc} exited with status ${statuses[failed]}\n`);
  return { statuses, status: failed >= 0 ? statuses[failed] : 0 };
}

function osSignalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}
