/**
 * `sdpo train --resume [DIR]` (the run's model, data and settings from its folder; a finished run left alone),
 * the log trimmed past the checkpoint a resumed run continues from, Ctrl-C's exit status 130, the step-budget
 * flags, TRL's flag names, and data tokenized with another tokenizer than the model's refused.
 */
import { spawn } from "child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import yargs from "yargs";
import { runTrain, trainCommand, type TrainArgs } from "../../src/cli/commands/train";
import { RUN_ARGS_FILE } from "../../src/cli/run-args";
import { createModel, saveModel } from "../../src/model/checkpoint";
import { presetConfig } from "../../src/model/config";
import { trimJsonlAfterStep } from "../../src/report/jsonl";
import { rejectionOf } from "../helpers";
import { TempDir, VOCAB } from "./fixtures";

jest.setTimeout(120_000);

const root = resolve(__dirname, "..", "..");
let tmp: TempDir;
let data: string;
beforeEach(() => {
  tmp = new TempDir();
  data = tmp.arrow("train.arrow", 8);
});
afterEach(() => tmp.remove());

let printed: string[] = [];
const stdoutWrite = process.stdout.write;
beforeAll(() => {
  process.stdout.write = ((chunk: string) => {
    printed.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
});
afterAll(() => {
  process.stdout.write = stdoutWrite;
});
beforeEach(() => {
  printed = [];
});

const quiet = { progress: false };
const checkpoints = (dir: string) => readdirSync(dir).filter((n) => n.startsWith("checkpoint-")).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
const logRecords = (dir: string) => readFileSync(join(dir, "train_log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; step: number });

/** Parses a `sdpo train` command line as the CLI does (aliases, coercion) and returns what runTrain would get. */
function parseTrain(argv: string[]): Promise<TrainArgs> {
  return new Promise<TrainArgs>((ok, fail) => {
    yargs(["train", ...argv])
      .command({ ...trainCommand, handler: (a) => ok(a) })
      .strict()
      .exitProcess(false)
      .fail((msg, err) => fail(err ?? new Error(String(msg))))
      .parse();
  });
}

describe("sdpo train --resume [DIR]", () => {
  test("--resume DIR alone continues a stopped run with its own model, data and settings; log steps are not repeated", async () => {
    const out = tmp.file("run");
    await runTrain({ ...quiet, loss: "sdpo", data, config: "tiny", out, negatives: 2, batchSize: 2, saveSteps: 2, learningRate: 1e-2, referenceMode: "frozen-copy" });
    expect(checkpoints(out)).toEqual(["checkpoint-2", "checkpoint-4"]);
    expect(JSON.parse(readFileSync(join(out, RUN_ARGS_FILE), "utf8")).args).toMatchObject({ loss: "sdpo", data, config: "tiny", negatives: 2, batchSize: 2, saveSteps: 2 });
    const straight = readFileSync(join(out, "checkpoint-4", "trainable.safetensors"));
    // As a Ctrl-C after step 4 with the last save at step 2 leaves it: steps 3 and 4 logged, checkpoint-4 missing.
    rmSync(join(out, "checkpoint-4"), { recursive: true });
    const outcome = await runTrain({ ...quiet, resume: out });
    expect(outcome.status).toBe("trained");
    expect(outcome.report?.steps).toBe(4);
    expect(checkpoints(out)).toEqual(["checkpoint-2", "checkpoint-4"]);
    expect(readFileSync(join(out, "checkpoint-4", "trainable.safetensors")).equals(straight)).toBe(true);
    const records = logRecords(out);
    expect(records.filter((r) => r.type === "step").map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(records.filter((r) => r.type === "checkpoint").map((r) => r.step)).toEqual([2, 4]);

    // Finished: said so, exit status 0 (no error), nothing trained or written.
    const logStamp = statSync(join(out, "train_log.jsonl")).mtimeMs;
    printed = [];
    expect(await runTrain({ ...quiet, resume: out })).toMatchObject({ status: "finished-already" });
    expect(printed.join("")).toBe(`${out}: the run is finished (step 4 of 4, checkpoint-4); nothing to train\n`);
    expect(statSync(join(out, "train_log.jsonl")).mtimeMs).toBe(logStamp);
    // --resume with --out (the older spelling) is the same; a --out naming another folder is refused.
    expect(await runTrain({ ...quiet, resume: true, out })).toMatchObject({ status: "finished-already" });
    expect((await rejectionOf(runTrain({ ...quiet, resume: out, out: tmp.file("other") }))).message).toMatch(/name different folders/);
    expect((await rejectionOf(runTrain({ ...quiet, resume: out, loss: "dpo" }))).message).toMatch(/was trained with --loss sdpo, not dpo/);
    expect((await rejectionOf(runTrain({ ...quiet, resume: "" }))).message).toMatch(/--resume needs the run folder/);
  });

  test("the --resume flag takes an optional folder", async () => {
    const out = tmp.file("run");
    expect((await parseTrain(["--resume", out])).resume).toBe(out);
    expect((await parseTrain(["--resume", "--out", out])).resume).toBe("");
    expect((await parseTrain(["--out", out, "--resume"])).resume).toBe("");
  });

  test("a resumed run whose recorded training file changed is refused", async () => {
    const out = tmp.file("run");
    await runTrain({ ...quiet, loss: "sft", data, config: "tiny", out, batchSize: 2, saveSteps: 2 });
    rmSync(join(out, "checkpoint-4"), { recursive: true });
    copyFileSync(tmp.arrow("other.arrow", 8, 4), data);
    expect((await rejectionOf(runTrain({ ...quiet, resume: out }))).message).toMatch(/training file .*train\.arrow has changed since the run started/);
  });
});

describe("train_log.jsonl on resume", () => {
  test("lines past the checkpoint's step (and torn lines) are dropped through a rename; nothing to drop leaves the file alone", () => {
    const file = tmp.file("log.jsonl");
    const lines = [
      { type: "step", step: 1 }, { type: "step", step: 2 }, { type: "eval", step: 2 }, { type: "checkpoint", step: 2 },
      { type: "step", step: 3 }, { type: "eval", step: 3 }, { type: "step", step: 4 },
    ].map((r) => JSON.stringify(r));
    writeFileSync(file, lines.join("\n") + '\n{"type":"st');
    expect(trimJsonlAfterStep(file, 2)).toBe(4);
    expect(readFileSync(file, "utf8")).toBe(lines.slice(0, 4).join("\n") + "\n");
    const inode = statSync(file).ino;
    expect(trimJsonlAfterStep(file, 2)).toBe(0);
    expect(statSync(file).ino).toBe(inode);
    expect(trimJsonlAfterStep(tmp.file("missing.jsonl"), 2)).toBe(0);
    expect(readdirSync(tmp.path).filter((n) => n.includes(".tmp-"))).toEqual([]);
  });
});

describe("Ctrl-C", () => {
  test("stops cleanly with exit status 130 and a resume hint; --resume then logs every step once", async () => {
    const out = tmp.file("run");
    // 8 rows, batch 1, 25 epochs: 200 steps of the tiny preset, long enough to be interrupted.
    const argv = ["train", "--loss", "sdpo", "--data", data, "--config", "tiny", "--out", out, "--negatives", "2", "--batch-size", "1",
      "--epochs", "25", "--save-steps", "2", "--reference-mode", "frozen-copy", "--no-progress"];
    const child = spawn(process.execPath, ["-r", join(root, "test", "ts-register.js"), join(root, "src", "cli", "main.ts"), ...argv], { cwd: root });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += String(c)));
    child.stderr.on("data", (c) => (stderr += String(c)));
    const exited = new Promise<number | null>((ok) => child.on("exit", (code) => ok(code)));
    for (let waited = 0; !existsSync(join(out, "checkpoint-2")); waited += 20) {
      if (waited > 60000) throw new Error(`no checkpoint-2 after 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    expect({ status: await exited, stderr }).toEqual({ status: 130, stderr: "" });
    expect(stdout).toMatch(/^sdpo: (\d+) steps, .* \(stopped at step \1; checkpoint-\d+ is kept\)\ncontinue with: sdpo train --resume .*run\n$/);
    const stoppedAt = Number(/stopped at step (\d+)/.exec(stdout)![1]);
    expect(stoppedAt).toBeLessThan(200);
    const outcome = await runTrain({ ...quiet, resume: out });
    expect(outcome).toMatchObject({ status: "trained", report: { steps: 200 } });
    const steps = logRecords(out).filter((r) => r.type === "step").map((r) => r.step);
    expect(steps).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });
});

describe("step budget and TRL's flag names", () => {
  test("each TRL flag name reaches the trainer options (trainer_state.json)", async () => {
    const out = tmp.file("run");
    const args = await parseTrain([
      "--loss", "sdpo", "--data", data, "--config", "tiny", "--output_dir", out, "--negatives", "2", "--reference-mode", "frozen-copy",
      "--learning_rate", "0.002", "--per_device_train_batch_size", "2", "--num_train_epochs", "2.5", "--gradient_accumulation_steps", "1",
      "--warmup_ratio", "0.1", "--weight_decay", "0.01", "--max_steps", "3", "--save_total_limit", "2", "--beta", "0.5", "--seed", "7",
      "--logging_steps", "1", "--eval_steps", "0", "--save_steps", "1", "--lr_scheduler_type", "linear", "--max_grad_norm", "0.5",
      "--adam_beta1", "0.8", "--adam_beta2", "0.99", "--adam_epsilon", "1e-7",
    ]);
    expect(args.out).toBe(out);
    await runTrain({ ...args, ...quiet });
    expect(checkpoints(out)).toEqual(["checkpoint-2", "checkpoint-3"]); // --save_total_limit 2 of 3 saves
    const state = JSON.parse(readFileSync(join(out, "checkpoint-3", "trainer_state.json"), "utf8"));
    expect(state.options).toMatchObject({
      learningRate: 0.002, batchSize: 2, numTrainEpochs: 2.5, gradientAccumulationSteps: 1, warmupRatio: 0.1, weightDecay: 0.01,
      maxSteps: 3, saveTotalLimit: 2, beta: 0.5, seed: 7, logSteps: 1, evalSteps: 0, saveSteps: 1, lrSchedulerType: "linear",
      maxGradNorm: 0.5, adamBeta1: 0.8, adamBeta2: 0.99, adamEpsilon: 1e-7,
    });
    expect(state).toMatchObject({ globalStep: 3, totalSteps: 3 });
  });

  test("--epochs takes fractions; --max-steps -1 (TRL's default) is no limit; a flag and its TRL name together are refused", async () => {
    const base = ["--loss", "sdpo", "--data", data, "--config", "tiny", "--out", tmp.file("run")];
    expect((await parseTrain([...base, "--epochs", "0.5"])).numTrainEpochs).toBe(0.5);
    expect((await parseTrain([...base, "--num-train-epochs", "0.25"])).numTrainEpochs).toBe(0.25);
    expect((await parseTrain([...base, "--max_steps", "-1"])).maxSteps).toBeUndefined();
    expect((await parseTrain([...base, "--max-steps", "12", "--save-total-limit", "3"])).maxSteps).toBe(12);
    expect((await rejectionOf(parseTrain([...base, "--max-steps", "0"]))).message).toMatch(/--max-steps must be a whole number >= 1 \(or -1: no limit\), got 0/);
    expect((await rejectionOf(parseTrain([...base, "--max-steps", "2.5"]))).message).toMatch(/--max-steps must be a whole number/);
    expect((await rejectionOf(parseTrain([...base, "--epochs", "0"]))).message).toMatch(/--num-train-epochs must be a finite number in \(0, 1000000\]/);
    expect((await rejectionOf(parseTrain([...base, "--save-total-limit", "0"]))).message).toMatch(/--save-total-limit must be a whole number/);
    expect((await rejectionOf(parseTrain([...base, "--learning-rate", "1", "--learning_rate", "2"]))).message).toMatch(/given 2 times/);
  });

  test("--epochs 0.5 trains half an epoch's steps", async () => {
    const out = tmp.file("run");
    const outcome = await runTrain({ ...quiet, loss: "sft", data, config: "tiny", out, batchSize: 2, numTrainEpochs: 0.5 });
    expect(outcome.report).toMatchObject({ steps: 2, epochs: 0.5 });
  });
});

describe("the model's tokenizer", () => {
  test("data tokenized with another tokenizer than the model folder's is refused before anything is written", async () => {
    const modelDir = tmp.file("model");
    const model = createModel(presetConfig("tiny", VOCAB), { seed: 1 });
    await saveModel(model, modelDir);
    model.dispose();
    writeFileSync(join(modelDir, "tokenizer.json"), readFileSync(join(root, "datasets", "lastfm", "tokenizer.json")));
    const out = tmp.file("run");
    const base: TrainArgs = { ...quiet, loss: "sft", data, model: modelDir, out, batchSize: 4 };
    const err = await rejectionOf(runTrain(base));
    expect(err.message).toMatch(/train\.arrow was tokenized with another tokenizer \(sha256 trainer-test…\) than .*model\/tokenizer\.json \([0-9a-f]{12}…\); convert the data with the model's tokenizer/);
    expect(existsSync(out)).toBe(false);
    // A model folder without a tokenizer.json: nothing to compare, it trains.
    rmSync(join(modelDir, "tokenizer.json"));
    expect((await runTrain(base)).status).toBe("trained");
  });
});
