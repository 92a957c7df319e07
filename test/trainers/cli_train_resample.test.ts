/** `sdpo train --redraw-candidates`: re-drawn rows from the shipped valid split, the record that --resume reads, and misuse refused. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { runTrain, type TrainArgs } from "../../src/cli/commands/train";
import { RESAMPLE_RECORD } from "../../src/cli/train-resample";
import { rejectionOf } from "../helpers";

jest.setTimeout(120_000);

const lastfm = join(__dirname, "..", "..", "datasets", "lastfm");
let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "sdpo-resample-cli-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const stdoutWrite = process.stdout.write;
beforeAll(() => (process.stdout.write = (() => true) as typeof process.stdout.write));
afterAll(() => (process.stdout.write = stdoutWrite));

test("trains on re-drawn rows, records the choice, and --resume reads it back", async () => {
  const out = join(dir, "run");
  // 267 rows at batch 128: 3 steps; the tokenizer is found beside --data.
  const base: TrainArgs = { progress: false, loss: "sdpo", data: join(lastfm, "valid.arrow"), config: "tiny", out, batchSize: 128, negatives: 3, referenceMode: "frozen-copy" };
  await runTrain({ ...base, redrawCandidates: true, saveSteps: 2 });
  expect(JSON.parse(readFileSync(join(out, RESAMPLE_RECORD), "utf8"))).toMatchObject({ redrawCandidates: true, subsequenceRows: false, copyRows: 0 });
  expect(existsSync(join(out, "checkpoint-3"))).toBe(true);
  // The run as stopped after step 2: resuming with no data flag takes the run's own rows and finishes it.
  rmSync(join(out, "checkpoint-3"), { recursive: true });
  expect((await runTrain({ ...base, resume: true })).status).toBe("trained");
  expect(existsSync(join(out, "checkpoint-3"))).toBe(true);
  // Sub-sequence rows change the number of examples, which the checkpoint's step count catches.
  rmSync(join(out, "checkpoint-3"), { recursive: true });
  expect((await rejectionOf(runTrain({ ...base, resume: true, redrawCandidates: true, subsequenceRows: true }))).message).toMatch(/steps/);
});

test("--copy-rows adds the share of copy rows (more steps an epoch); it and --skip-rows are recorded for --resume", async () => {
  const out = join(dir, "run");
  // 267 rows + 267 copy rows (share 0.5) at batch 128: 5 steps instead of 3.
  const base: TrainArgs = { progress: false, loss: "sft", data: join(lastfm, "valid.arrow"), config: "tiny", out, batchSize: 128 };
  await runTrain({ ...base, redrawCandidates: true, copyRows: 0.5, skipRows: 0.25 });
  expect(JSON.parse(readFileSync(join(out, RESAMPLE_RECORD), "utf8"))).toMatchObject({ redrawCandidates: true, copyRows: 0.5, skipRows: 0.25 });
  expect(existsSync(join(out, "checkpoint-5"))).toBe(true);
});

test("--history-unlikelihood trains sft on re-drawn rows", async () => {
  const out = join(dir, "run");
  const base: TrainArgs = { progress: false, loss: "sft", data: join(lastfm, "valid.arrow"), config: "tiny", out, batchSize: 128 };
  // The eval file's fixed rows carry no history tokens: evaluated without the term, not refused.
  expect((await runTrain({ ...base, redrawCandidates: true, historyUnlikelihood: 1, eval: join(lastfm, "valid.arrow"), evalSteps: 2 })).status).toBe("trained");
  expect(existsSync(join(out, "checkpoint-3"))).toBe(true);
});

test("RoDPO's per-row pools on re-drawn rows are refused with the reason (their candidates change every epoch)", async () => {
  const base: TrainArgs = { progress: false, loss: "sdpo", data: join(lastfm, "valid.arrow"), config: "tiny", out: join(dir, "run"), batchSize: 64, negatives: 3, referenceMode: "frozen-copy" };
  for (const negativeSampling of ["pool", "hard"] as const) {
    expect((await rejectionOf(runTrain({ ...base, redrawCandidates: true, subsequenceRows: true, negativeSampling }))).message).toMatch(
      new RegExp(`negativeSampling '${negativeSampling}' keeps a pool per row of fixed candidates.*ResampledDataset`)
    );
  }
});

test("misuse of the resampling flags is a usage error before anything is written", async () => {
  const out = join(dir, "run");
  const base: TrainArgs = { progress: false, loss: "sft", data: join(lastfm, "valid.arrow"), config: "tiny", out, batchSize: 64 };
  expect((await rejectionOf(runTrain({ ...base, subsequenceRows: true }))).message).toMatch(/need --redraw-candidates/);
  expect((await rejectionOf(runTrain({ ...base, copyRows: 0.25 }))).message).toMatch(/need --redraw-candidates/);
  expect((await rejectionOf(runTrain({ ...base, skipRows: 0.25 }))).message).toMatch(/need --redraw-candidates/);
  expect((await rejectionOf(runTrain({ ...base, historyUnlikelihood: 1 }))).message).toMatch(/--history-unlikelihood reads each row's history tokens.*needs --redraw-candidates/);
  const wrong = join(dir, "tokenizer.json");
  require("fs").writeFileSync(wrong, readFileSync(join(lastfm, "tokenizer.json"), "utf8").replace("<|pad|>", "<|pad2|>"));
  expect((await rejectionOf(runTrain({ ...base, redrawCandidates: true, tokenizer: wrong }))).message).toMatch(/is not the tokenizer .* was made with/);
  expect(existsSync(out)).toBe(false);
});
