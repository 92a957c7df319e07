/** `sdpo train`: a run end to end, and bad input refused before anything is written. */
import { spawnSync } from "child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import yargs from "yargs";
import { createHash } from "crypto";
import { runTrain, trainCommand, type TrainArgs } from "../../src/cli/commands/train";
import { findTrainingDataRecord, TRAINING_DATA_FILE } from "../../src/trainers/run_dir";
import { rejectionOf } from "../helpers";
import { TempDir } from "./fixtures";

jest.setTimeout(60_000);

let tmp: TempDir;
let data: string;
beforeEach(() => {
  tmp = new TempDir();
  data = tmp.arrow("train.arrow", 8);
});
afterEach(() => tmp.remove());

const quiet = { progress: false };
const stdoutWrite = process.stdout.write;
beforeAll(() => {
  process.stdout.write = (() => true) as typeof process.stdout.write;
});
afterAll(() => {
  process.stdout.write = stdoutWrite;
});

describe("sdpo train", () => {
  test("a corrupt --data (issue 12's reproducers: a hang and a 4.5 GB allocation before) is refused in milliseconds", async () => {
    const out = tmp.file("run");
    for (const [offset, value] of [[702593, 58], [702635, 29]]) {
      const bytes = readFileSync("datasets/lastfm/valid.arrow");
      bytes[offset] = value;
      const file = tmp.file(`corrupt-${offset}.arrow`);
      writeFileSync(file, bytes);
      const started = Date.now();
      const err = await rejectionOf(runTrain({ ...quiet, loss: "sdpo", data: file, config: "tiny", out }));
      expect(err.message).toMatch(new RegExp(`^--data .*corrupt-${offset}\\.arrow: .*footer: field children: vector of \\d+ elements runs past the metadata \\(corrupt file\\?\\)$`));
      expect(Date.now() - started).toBeLessThan(5000);
    }
    expect(existsSync(out)).toBe(false);
  });

  test("a run stopped during its first checkpoint write restarts from step 0 as itself with --resume", async () => {
    const out = tmp.file("run");
    const base: TrainArgs = { ...quiet, loss: "sdpo", data, config: "tiny", out, negatives: 2, batchSize: 4, referenceMode: "frozen-copy" };
    // What a kill -9 inside the first writeCheckpoint leaves: the run's marker, a half-written temp folder of the
    // dead process, a log line (and the temp folder an earlier version of the package named differently).
    const runId = "0f0e0d0c-killed-run";
    const deadPid = spawnSync(process.execPath, ["-e", ""]).pid;
    for (const temp of [`.checkpoint-1.tmp-${deadPid}-killed`, ".tmp-checkpoint-1-123"]) {
      mkdirSync(join(out, temp), { recursive: true });
      writeFileSync(join(out, temp, "model.safetensors"), "partial");
    }
    writeFileSync(join(out, "sdpo_run.json"), JSON.stringify({ runId, loss: "sdpo", startedAt: "2026-11-25T00:00:00.000Z" }));
    writeFileSync(join(out, "train_log.jsonl"), JSON.stringify({ type: "step", step: 1 }) + "\n");
    expect((await rejectionOf(runTrain(base))).message).toMatch(/already holds another run 0f0e0d0c-killed-run \(sdpo, .*stopped before its first checkpoint\); use --resume/);
    expect((await rejectionOf(runTrain({ ...base, loss: "dpo", negatives: 1, resume: true }))).message).toBe(`--resume: ${out} holds a sdpo run, not dpo`);
    await runTrain({ ...base, resume: true });
    expect(readdirSync(out).filter((n) => n.includes("checkpoint")).sort()).toEqual(["checkpoint-2"]);
    expect(JSON.parse(readFileSync(join(out, "sdpo_run.json"), "utf8")).runId).toBe(runId);
    expect(JSON.parse(readFileSync(join(out, "checkpoint-2", "trainer_state.json"), "utf8")).runId).toBe(runId);
    const steps = readFileSync(join(out, "train_log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.type === "step");
    expect(steps.map((r) => r.step)).toEqual([1, 2]);
  });

  test("trains a tiny model from a preset, writes checkpoints and a JSONL log", async () => {
    const out = tmp.file("run");
    await runTrain({ ...quiet, loss: "sdpo", data, eval: data, config: "tiny", out, negatives: 2, batchSize: 4, saveSteps: 1, referenceMode: "frozen-copy" });
    expect(readdirSync(out).filter((n) => n.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-1", "checkpoint-2"]);
    const log = readFileSync(join(out, "train_log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(log.filter((r) => r.type === "step").map((r) => r.step)).toEqual([1, 2]);
    expect(log.some((r) => r.type === "eval")).toBe(true);
    expect(log.filter((r) => r.type === "checkpoint").length).toBe(2);
    // The training file, for sdpo eval's popularity-bias metrics; found from a checkpoint folder too.
    const record = JSON.parse(readFileSync(join(out, TRAINING_DATA_FILE), "utf8"));
    expect(record).toEqual({ file: data, sha256: createHash("sha256").update(readFileSync(data)).digest("hex"), rows: 8 });
    expect((await findTrainingDataRecord(join(out, "checkpoint-2")))?.record).toEqual(record);
    // --resume of a finished run says so and trains nothing
    expect((await runTrain({ ...quiet, loss: "sdpo", data, config: "tiny", out, resume: true })).status).toBe("finished-already");
    expect(readdirSync(out).filter((n) => n.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-1", "checkpoint-2"]);
  });

  test("bad input is a clear error and leaves --out untouched", async () => {
    const out = tmp.file("run");
    const base: TrainArgs = { ...quiet, loss: "sdpo", data, config: "tiny", out, batchSize: 4, referenceMode: "frozen-copy" };
    expect((await rejectionOf(runTrain({ ...base, data: tmp.file("missing.arrow") }))).message).toMatch(/--data .*missing\.arrow: no such file/);
    expect((await rejectionOf(runTrain({ ...base, config: undefined }))).message).toMatch(/exactly one of --model/);
    expect((await rejectionOf(runTrain({ ...base, model: tmp.path }))).message).toMatch(/exactly one of --model/);
    expect((await rejectionOf(runTrain({ ...base, config: undefined, model: tmp.path }))).message).toMatch(/no config\.json/);
    expect((await rejectionOf(runTrain({ ...base, negatives: 7 }))).message).toMatch(/--data .*train\.arrow: .*/);
    expect((await rejectionOf(runTrain({ ...base, resume: true }))).message).toMatch(/--resume .*run: no such folder/);
    expect(existsSync(out)).toBe(false);
    mkdirSync(out);
    expect((await rejectionOf(runTrain({ ...base, resume: true }))).message).toMatch(/holds no checkpoint-N folder/);
    rmSync(out, { recursive: true });

    await runTrain({ ...base, negatives: 2 });
    const stamp = statSync(join(out, "checkpoint-2", "trainer_state.json")).mtimeMs;
    expect((await rejectionOf(runTrain({ ...base, negatives: 2 }))).message).toMatch(/already holds another run/);
    expect(statSync(join(out, "checkpoint-2", "trainer_state.json")).mtimeMs).toBe(stamp);
    await runTrain({ ...base, negatives: 2, batchSize: 8, overwrite: true });
    expect(readdirSync(out).filter((n) => n.startsWith("checkpoint-"))).toEqual(["checkpoint-1"]);
  });

  test("--weight-decay-all-parameters reaches the trainer (its options in trainer_state.json)", async () => {
    const out = tmp.file("run");
    const argv = ["train", "--loss", "sdpo", "--data", data, "--config", "tiny", "--out", out, "--negatives", "2", "--batch-size", "8",
      "--reference-mode", "frozen-copy", "--weight-decay", "0.1", "--weight-decay-all-parameters"];
    const args = await new Promise<TrainArgs>((resolve, reject) => {
      yargs(argv)
        .command({ ...trainCommand, handler: (a) => resolve(a) })
        .strict()
        .exitProcess(false)
        .fail((msg) => reject(new Error(String(msg))))
        .parse();
    });
    await runTrain({ ...args, ...quiet });
    const state = JSON.parse(readFileSync(join(out, "checkpoint-1", "trainer_state.json"), "utf8"));
    expect(state.options).toMatchObject({ weightDecay: 0.1, weightDecayAllParameters: true });
  });

  test("with stderr not a terminal, progress comes as plain lines while training (every 10% of the steps), eval and checkpoint lines included", async () => {
    const out = tmp.file("run");
    const written: string[] = [];
    const stderrWrite = process.stderr.write;
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(process.stderr.isTTY).toBeFalsy();
      // 8 rows, batch 1, 5 epochs: 40 steps.
      await runTrain({ loss: "sft", data, eval: data, config: "tiny", out, batchSize: 1, numTrainEpochs: 5, evalSteps: 20 });
    } finally {
      process.stderr.write = stderrWrite;
    }
    const lines = written.join("").split("\n").filter(Boolean);
    expect(lines.filter((l) => /^sft: \d+\/40 steps/.test(l)).map((l) => Number(/^sft: (\d+)/.exec(l)![1]))).toEqual([1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    expect(lines.filter((l) => l.startsWith("sft eval @ step"))).toEqual([expect.stringMatching(/^sft eval @ step 20: loss \d+\.\d{4} \(8 rows\)$/), expect.stringMatching(/^sft eval @ step 40: /)]);
    expect(lines[lines.length - 1]).toBe(`sft checkpoint @ step 40: ${join(out, "checkpoint-40")}`);
    expect(written.join("")).not.toMatch(/\r|\x1b/);
  });

  test("the command line is strict: unknown flags and losses are refused", async () => {
    const parse = (argv: string[]) =>
      new Promise<string>((resolve) => {
        yargs(argv)
          .command({ ...trainCommand, handler: () => resolve("ran") })
          .strict()
          .exitProcess(false)
          .fail((msg) => resolve(String(msg)))
          .parse();
      });
    expect(await parse(["train", "--loss", "sdpo", "--data", data, "--config", "tiny", "--out", "x", "--learning-rat", "1"])).toMatch(/Unknown argument/);
    expect(await parse(["train", "--loss", "ipo", "--data", data, "--config", "tiny", "--out", "x"])).toMatch(/Invalid values/);
    // --loss, --data and --out may come from the run folder with --resume; without it they are required.
    expect((await rejectionOf(runTrain({ ...quiet, data, config: "tiny", out: tmp.file("x") }))).message).toMatch(/--loss is required/);
    expect((await rejectionOf(runTrain({ ...quiet, loss: "sdpo", config: "tiny", out: tmp.file("x") }))).message).toMatch(/--data is required/);
    expect((await rejectionOf(runTrain({ ...quiet, loss: "sdpo", data, config: "tiny" }))).message).toMatch(/--out is required/);
  });
});
