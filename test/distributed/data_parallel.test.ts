/**
 * Data-parallel training on c10d's Gloo over loopback: 2 ranks x batchSize 4 must end with the parameters
 * (and evaluation figures) of 1 process x batchSize 8 (float64, within 1e-10: only the order of the sums differs), launched by our
 * spawner, by torchrun --no_python and by `sdpo train --nproc 2`; a rank that dies makes the other fail
 * inside the timeout with an error naming its rank and the phase. Every rank is a child process (a process
 * group is one per process) running the TypeScript sources through swc-register.js.
 */
import { spawn, spawnSync } from "child_process";
import { existsSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { freeLoopbackPort, spawnLocalRanks } from "../../src/distributed/spawn_local";
import { native } from "../../src/native";
import { readCheckpoint } from "../../src/trainers/checkpoint_io";
import { TempDir, tinyConfig } from "../trainers/fixtures";

const root = join(__dirname, "..", "..");
const register = join(__dirname, "swc-register.js");
const rankScript = join(__dirname, "dp_rank.ts");
const torchrun = join(__dirname, "torchrun");
const hasGloo = native().distributedInfo().gloo;
const hasTorchrun = existsSync("/usr/bin/python3") && spawnSync("/usr/bin/python3", ["-c", "import torch.distributed.run"]).status === 0;

interface RankResult {
  steps?: number;
  aborted?: boolean;
  lastEval?: { loss: number; rewardAccuracy: number; rows: number };
  losses?: number[];
  params?: Record<string, number[]>;
  /** The trainable parameters before training. */
  initial?: Record<string, number[]>;
  error?: string;
}

/** The launch variables removed: a child that trains alone unless we set them. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // One thread per process (OpenBLAS's pool too): the ranks share the machine's cores.
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE"]) delete env[k];
  return { ...env, ...extra };
}

function result(out: string, rank: string): RankResult {
  return JSON.parse(readFileSync(join(out, `rank-${rank}.json`), "utf8")) as RankResult;
}

function maxDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  let worst = 0;
  for (const name of Object.keys(a)) {
    expect(a[name].length).toBe(b[name].length);
    a[name].forEach((x, i) => (worst = Math.max(worst, Math.abs(x - b[name][i]))));
  }
  return worst;
}

function trainAlone(test: object): RankResult {
  const run = spawnSync(process.execPath, ["-r", register, rankScript], { env: cleanEnv({ DP_TEST: JSON.stringify(test) }), encoding: "utf8", timeout: 60000 });
  const out = (test as { out: string }).out;
  if (!existsSync(join(out, "rank-alone.json"))) throw new Error(`the single-process run wrote nothing: ${run.stderr}`);
  return result(out, "alone");
}

(hasGloo ? describe : describe.skip)("data-parallel training (gloo, loopback)", () => {
  const tmp = new TempDir();
  // 17 rows: global batches of 8, 8 and 1, so rank 1 has no row in the last step (it still joins the sum).
  const data = tmp.arrow("train.arrow", 17);
  afterAll(() => tmp.remove());

  test.each([
    ["sdpo", false],
    ["sft", false],
    ["dpo", true],
  ] as const)("%s (lora %s): 2 ranks x batch 4 == 1 process x batch 8 (float64, 1e-10)", async (loss, lora) => {
    const out = join(tmp.path, `${loss}-${lora}`);
    require("fs").mkdirSync(out);
    const alone = trainAlone({ loss, data, batchSize: 8, out, lora, eval: data });
    expect(alone.error).toBeUndefined();
    expect(alone.steps).toBe(3);
    // Training moved the parameters by far more than the tolerance: a match below says something.
    expect(maxDiff(alone.initial!, alone.params!)).toBeGreaterThan(1e-4);
    const ranks = await spawnLocalRanks(process.execPath, ["-r", register, rankScript], 2, undefined, cleanEnv({ DP_TEST: JSON.stringify({ loss, data, batchSize: 4, out, lora, eval: data }) }));
    const r0 = result(out, "0");
    const r1 = result(out, "1");
    expect([r0.error, r1.error]).toEqual([undefined, undefined]);
    expect(ranks.status).toBe(0);
    expect(r0.steps).toBe(3);
    // The ranks apply the same summed gradient: bit for bit the same parameters.
    expect(maxDiff(r0.params!, r1.params!)).toBe(0);
    expect(maxDiff(r0.params!, alone.params!)).toBeLessThan(1e-10);
    // Reported metrics are the whole step's, not one rank's.
    r0.losses!.forEach((l, i) => expect(Math.abs(l - alone.losses![i])).toBeLessThan(1e-10));
    // Evaluation is sharded too (each rank scores its rows) and summed: the whole split's figures.
    expect(r0.lastEval!.rows).toBe(17);
    expect(Math.abs(r0.lastEval!.loss - alone.lastEval!.loss)).toBeLessThan(1e-10);
    expect(r1.lastEval).toEqual(r0.lastEval);
  });

  test.each(["pool", "hard"] as const)("RoDPO negatives (%s): the ranks share the pools, 2 ranks x batch 4 == 1 process x batch 8 (float64, 1e-10)", async (sampling) => {
    const out = join(tmp.path, `rodpo-${sampling}`);
    require("fs").mkdirSync(out);
    // Refreshed every 2 steps: steps 1 and 3 score candidates, step 2 draws from the pools built at step 1.
    const options = { negativeSampling: sampling, poolSize: 3, poolRefreshSteps: 2, negatives: 2 };
    const alone = trainAlone({ loss: "sdpo", data, batchSize: 8, out, options });
    expect(alone.error).toBeUndefined();
    await spawnLocalRanks(process.execPath, ["-r", register, rankScript], 2, undefined, cleanEnv({ DP_TEST: JSON.stringify({ loss: "sdpo", data, batchSize: 4, out, options }) }));
    const r0 = result(out, "0");
    const r1 = result(out, "1");
    expect([r0.error, r1.error]).toEqual([undefined, undefined]);
    expect(r0.steps).toBe(3);
    expect(maxDiff(r0.params!, r1.params!)).toBe(0);
    expect(maxDiff(r0.params!, alone.params!)).toBeLessThan(1e-10);
    r0.losses!.forEach((l, i) => expect(Math.abs(l - alone.losses![i])).toBeLessThan(1e-10));
    // The same run without the pool trains otherwise: the pool decided the negatives.
    require("fs").mkdirSync(join(out, "plain"));
    const plain = trainAlone({ loss: "sdpo", data, batchSize: 8, out: join(out, "plain"), options: { negatives: 2 } });
    expect(maxDiff(plain.params!, alone.params!)).toBeGreaterThan(1e-8);
  });

  test("one bucket per tensor (the per-tensor reference) gives the bucketed result", async () => {
    const out = join(tmp.path, "buckets");
    require("fs").mkdirSync(out);
    const base = { loss: "sdpo", data, batchSize: 4, out };
    await spawnLocalRanks(process.execPath, ["-r", register, rankScript], 2, undefined, cleanEnv({ DP_TEST: JSON.stringify({ ...base, bucketBytes: 0 }) }));
    const perTensor = result(out, "0");
    // 2 KiB buckets: several buckets, some holding several tensors.
    await spawnLocalRanks(process.execPath, ["-r", register, rankScript], 2, undefined, cleanEnv({ DP_TEST: JSON.stringify({ ...base, bucketBytes: 2048 }) }));
    const bucketed = result(out, "0");
    expect([perTensor.error, bucketed.error]).toEqual([undefined, undefined]);
    expect(maxDiff(perTensor.params!, bucketed.params!)).toBe(0);
  });

  (hasTorchrun ? test : test.skip)("torchrun --no_python launches the ranks (its agent's store)", async () => {
    const out = join(tmp.path, "torchrun");
    require("fs").mkdirSync(out);
    const alone = trainAlone({ loss: "sdpo", data, batchSize: 8, out, gradientAccumulationSteps: 2 });
    const port = await freeLoopbackPort();
    const env = cleanEnv({ DP_TEST: JSON.stringify({ loss: "sdpo", data, batchSize: 4, out, gradientAccumulationSteps: 2 }) });
    const run = spawnSync(torchrun, ["--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", String(port), "--no_python", process.execPath, "-r", register, rankScript], { env, encoding: "utf8", timeout: 60000 });
    const r0 = result(out, "0");
    const r1 = result(out, "1");
    expect([r0.error, r1.error, run.status]).toEqual([undefined, undefined, 0]);
    expect(r0.steps).toBe(2);
    expect(maxDiff(r0.params!, r1.params!)).toBe(0);
    expect(maxDiff(r0.params!, alone.params!)).toBeLessThan(1e-10);
  });

  test("sdpo train --nproc 2 writes one run (rank 0) equal to a single process's", async () => {
    const config = tmp.file("tiny.json");
    writeFileSync(config, JSON.stringify(tinyConfig));
    const dpOut = join(tmp.path, "cli-dp");
    const flags = ["--loss", "sdpo", "--data", data, "--config", config, "--dtype", "float64", "--learning-rate", "1e-3", "--backend", "gloo"];
    const cli = join(root, "src", "cli", "main.ts");
    const runCli = (args: string[]) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["-r", register, cli, "train", ...flags, ...args], { env: cleanEnv({}), stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += String(d)));
        child.on("exit", (status) => resolve({ status, stderr }));
      });
    const dp = await runCli(["--out", dpOut, "--batch-size", "4", "--nproc", "2"]);
    // Rank 0 alone talks: its plain progress lines (stderr is not a terminal), each step once, nothing else.
    const lines = dp.stderr.trim().split("\n");
    expect(lines.filter((l) => !/^sdpo: \d\/3 steps /.test(l))).toEqual([`sdpo checkpoint @ step 3: ${join(dpOut, "checkpoint-3")}`]);
    expect(lines.map((l) => /^sdpo: (\d)\/3 steps/.exec(l)?.[1]).filter(Boolean)).toEqual(["1", "2", "3"]);
    expect(dp.status).toBe(0);
    const aloneOut = join(tmp.path, "cli-alone");
    expect((await runCli(["--out", aloneOut, "--batch-size", "8"])).status).toBe(0);
    const a = await readCheckpoint(join(dpOut, "checkpoint-3"));
    const b = await readCheckpoint(join(aloneOut, "checkpoint-3"));
    expect(a.state.worldSize).toBe(2);
    const asParams = (ck: typeof a) => Object.fromEntries(ck.trainable.map((t) => [t.name, Array.from(new Float64Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)))]));
    expect(maxDiff(asParams(a), asParams(b))).toBeLessThan(1e-10);
  });

  test("a rank that dies makes the other fail within the timeout, naming its rank and the phase", async () => {
    const out = join(tmp.path, "dies");
    require("fs").mkdirSync(out);
    const port = await freeLoopbackPort();
    const started = Date.now();
    const ranks = [0, 1].map(
      (rank) =>
        new Promise<number | null>((resolve) => {
          const test = { loss: "sdpo", data, batchSize: 4, out, timeoutMs: 20000, ...(rank === 1 ? { killAfterStep: 1 } : {}) };
          const env = cleanEnv({ DP_TEST: JSON.stringify(test), RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) });
          const child = spawn(process.execPath, ["-r", register, rankScript], { env, stdio: "ignore" });
          child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null)));
        }),
    );
    const [status0, status1] = await Promise.all(ranks);
    expect(status1).toBe(-1); // killed
    expect(status0).toBe(1);
    expect(Date.now() - started).toBeLessThan(40000);
    const r0 = result(out, "0");
    expect(r0.error).toMatch(/rank 0 of 2 \(gloo\): all-reduce of .*optimizer step 2/);
  });

  test("a run whose rank died resumes from rank 0's checkpoint, on 2 ranks or on 1 (same global batch)", async () => {
    const out = join(tmp.path, "resume");
    require("fs").mkdirSync(out);
    const alone = trainAlone({ loss: "sdpo", data, batchSize: 8, out });
    const runDir = join(out, "run");
    const port = await freeLoopbackPort();
    const statuses = await Promise.all(
      [0, 1].map(
        (rank) =>
          new Promise<number | null>((resolve) => {
            const test = { loss: "sdpo", data, batchSize: 4, out, outputDir: runDir, saveSteps: 1, ...(rank === 1 ? { killAfterStep: 2 } : {}) };
            const env = cleanEnv({ DP_TEST: JSON.stringify(test), RANK: String(rank), WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) });
            spawn(process.execPath, ["-r", register, rankScript], { env, stdio: "ignore" }).on("exit", (code) => resolve(code));
          }),
      ),
    );
    expect(statuses).toEqual([1, null]);
    expect(result(out, "0").error).toMatch(/optimizer step 3/);
    // Rank 0 alone wrote the checkpoints, up to the last step both ranks finished.
    expect(require("fs").readdirSync(runDir).filter((f: string) => f.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-1", "checkpoint-2"]);
    const resumeFrom = join(runDir, "checkpoint-2");
    await spawnLocalRanks(process.execPath, ["-r", register, rankScript], 2, undefined, cleanEnv({ DP_TEST: JSON.stringify({ loss: "sdpo", data, batchSize: 4, out, resumeFrom }) }));
    const resumed = result(out, "0");
    expect(resumed.error).toBeUndefined();
    expect(resumed.steps).toBe(3);
    expect(maxDiff(resumed.params!, alone.params!)).toBeLessThan(1e-10);
    // 1 process x batch 8 continues the 2 x 4 run: the same global batches.
    const single = trainAlone({ loss: "sdpo", data, batchSize: 8, out, resumeFrom });
    expect(single.error).toBeUndefined();
    expect(maxDiff(single.params!, alone.params!)).toBeLessThan(1e-10);
    // Another global batch cannot continue it.
    expect(trainAlone({ loss: "sdpo", data, batchSize: 4, out, resumeFrom }).error).toMatch(/batchSize: checkpoint 4, now 4; ranks: checkpoint 2, now 1/);
  });

  test("a stop requested on one rank stops every rank after the same step", async () => {
    const out = join(tmp.path, "stop");
    require("fs").mkdirSync(out);
    const port = await freeLoopbackPort();
    const statuses = await Promise.all(
      [0, 1].map(
        (rank) =>
          new Promise<number | null>((resolve) => {
            const test = { loss: "sdpo", data, batchSize: 4, out, ...(rank === 1 ? { abortAfterStep: 1 } : {}) };
            const env = cleanEnv({ DP_TEST: JSON.stringify(test), RANK: String(rank), WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) });
            spawn(process.execPath, ["-r", register, rankScript], { env, stdio: "ignore" }).on("exit", (code) => resolve(code));
          }),
      ),
    );
    expect(statuses).toEqual([0, 0]);
    for (const rank of ["0", "1"]) expect(result(out, rank)).toMatchObject({ steps: 1, aborted: true });
    expect(maxDiff(result(out, "0").params!, result(out, "1").params!)).toBe(0);
  });

  test("ranks started with different options are refused at start-up, before any step", async () => {
    const out = join(tmp.path, "mismatch");
    require("fs").mkdirSync(out);
    const port = await freeLoopbackPort();
    const ranks = [0, 1].map(
      (rank) =>
        new Promise<number | null>((resolve) => {
          const test = { loss: "sdpo", data, batchSize: rank === 0 ? 4 : 3, out, timeoutMs: 20000 };
          const env = cleanEnv({ DP_TEST: JSON.stringify(test), RANK: String(rank), WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) });
          spawn(process.execPath, ["-r", register, rankScript], { env, stdio: "ignore" }).on("exit", (code) => resolve(code));
        }),
    );
    expect(await Promise.all(ranks)).toEqual([1, 1]);
    expect(result(out, "0").error).toMatch(/rank 0 of 2: the ranks disagree on the model, trainer options or training data/);
    expect(result(out, "1").error).toMatch(/rank 1 of 2: the ranks disagree/);
  });

  test("a rank alone at the rendezvous fails after the timeout, naming the rendezvous", async () => {
    const out = join(tmp.path, "alone-at-rendezvous");
    require("fs").mkdirSync(out);
    const port = await freeLoopbackPort();
    const env = cleanEnv({ DP_TEST: JSON.stringify({ loss: "sdpo", data, batchSize: 4, out, timeoutMs: 3000 }), RANK: "1", WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) });
    const run = spawnSync(process.execPath, ["-r", register, rankScript], { env, encoding: "utf8", timeout: 60000 });
    expect(run.status).toBe(1);
    expect(result(out, "1").error).toMatch(/rank 1 of 2 \(gloo\): rendezvous at 127\.0\.0\.1:\d+ failed/);
  });
});

/**
 * NCCL, world size 1 (one GPU): the process group over CUDA tensors gives the single-process result. Runs where
 * the build has NCCL and a GPU is there; SDPO_NCCL_TEST=1 (bench/gpu/nccl-check.sh) makes a missing NCCL a
 * failure instead of a skip.
 */
const ncclWanted = process.env.SDPO_NCCL_TEST === "1";
const hasCuda = native().buildInfo().cudaAvailable === true;
(ncclWanted || (native().distributedInfo().nccl && hasCuda) ? describe : describe.skip)("data-parallel training (nccl, world size 1)", () => {
  const tmp = new TempDir();
  const data = tmp.arrow("train.arrow", 17);
  afterAll(() => tmp.remove());

  test("the build carries nccl and a CUDA device is there", () => {
    expect(native().distributedInfo().nccl).toBe(true);
    expect(hasCuda).toBe(true);
  });

  test("sdpo on cuda:0 through nccl (world size 1) == the same run alone", async () => {
    const out = join(tmp.path, "nccl");
    require("fs").mkdirSync(out);
    const test = { loss: "sdpo", data, batchSize: 8, out, device: "cuda:0" };
    const alone = trainAlone(test);
    expect(alone.error).toBeUndefined();
    const ranks = await spawnLocalRanks(process.execPath, ["-r", register, rankScript], 1, undefined, cleanEnv({ DP_TEST: JSON.stringify({ ...test, backend: "nccl" }) }));
    const r0 = result(out, "0");
    expect(r0.error).toBeUndefined();
    expect(ranks.status).toBe(0);
    expect(r0.steps).toBe(3);
    expect(maxDiff(alone.initial!, alone.params!)).toBeGreaterThan(1e-4);
    expect(maxDiff(r0.params!, alone.params!)).toBeLessThan(1e-10);
  });
});
