/** `sdpo train` with the variants' flags: runs, resume keeps the sampler, and flag mistakes are clear errors. */
import { existsSync, readFileSync } from "fs";
import { join } from "path";
import yargs from "yargs";
import { runTrain, trainCommand, variantOptions, type TrainArgs } from "../../src/cli/commands/train";
import { rejectionOf, thrownBy } from "../helpers";
import { TempDir } from "./fixtures";

jest.setTimeout(60_000);

let tmp: TempDir;
let data: string;
beforeEach(() => {
  tmp = new TempDir();
  data = tmp.arrow("train.arrow", 8);
});
afterEach(() => tmp.remove());

const stdoutWrite = process.stdout.write;
beforeAll(() => {
  process.stdout.write = (() => true) as typeof process.stdout.write;
});
afterAll(() => {
  process.stdout.write = stdoutWrite;
});

const stateOf = (out: string, step: number) => JSON.parse(readFileSync(join(out, `checkpoint-${step}`, "trainer_state.json"), "utf8"));

describe("sdpo train, variants", () => {
  test("--loss napo with in-batch negatives and a margin runs and records its options", async () => {
    const out = tmp.file("napo");
    await runTrain({
      progress: false, loss: "napo", data, config: "tiny", out, negatives: 2, batchSize: 4, referenceMode: "frozen-copy",
      inBatchNegatives: true, inBatchCap: 3, rewardMargin: "fixed", marginGamma: 0.25,
    });
    const state = stateOf(out, 2);
    expect(state.loss).toBe("napo");
    expect(state.options.inBatchNegatives).toEqual({ cap: 3 });
    expect(state.options.rewardMargin).toEqual({ mode: "fixed", gamma: 0.25, tau: 1, confidence: "reference" });
  });

  test("--negative-sampling pool: the pool is checkpointed and --resume keeps the sampler", async () => {
    const out = tmp.file("pool");
    const base: TrainArgs = { progress: false, loss: "sdpo", data, config: "tiny", out, negatives: 2, batchSize: 4, referenceMode: "frozen-copy", saveSteps: 1 };
    await runTrain({ ...base, negativeSampling: "pool", poolSize: 3, poolRefreshSteps: 5 });
    const state = stateOf(out, 2);
    expect(state.options).toMatchObject({ negativeSampling: "pool", poolSize: 3, poolRefreshSteps: 5 });
    expect(state.negativePool.pool.pools.length).toBe(8);
    // No variant flag given again: the run's own come back, so the options match and nothing is left to do.
    await runTrain({ progress: false, loss: "sdpo", data, config: "tiny", out, resume: true });
    expect(existsSync(join(out, "checkpoint-3"))).toBe(false);
  });

  test("flag mistakes are clear errors before anything is written", async () => {
    const out = tmp.file("bad");
    const base: TrainArgs = { progress: false, loss: "sdpo", data, config: "tiny", out, batchSize: 4, referenceMode: "frozen-copy" };
    const cases: Array<[Partial<TrainArgs>, RegExp]> = [
      [{ inBatchCap: 2 }, /--in-batch-cap needs --in-batch-negatives/],
      [{ loss: "dpo", inBatchNegatives: true }, /--in-batch-negatives needs --loss sdpo or napo/],
      [{ inBatchNegatives: true, inBatchCap: -1 }, /--in-batch-cap must be a whole number >= 0/],
      [{ poolSize: 4 }, /--pool-size and --pool-refresh-steps need --negative-sampling pool or hard/],
      [{ negativeSampling: "random", poolRefreshSteps: 4 }, /need --negative-sampling pool or hard, not random/],
      [{ negativeSampling: "pool", negatives: 4, poolSize: 3 }, /--negatives 4 is more than --pool-size 3/],
      [{ negativeSampling: "pool", poolSize: 0 }, /--pool-size must be a whole number >= 1/],
      [{ negativeSampling: "hard", inBatchNegatives: true }, /cannot be combined/],
      [{ loss: "sft", negativeSampling: "random" }, /needs a loss with negatives/],
      [{ rewardMargin: "fixed" }, /need --loss napo, not sdpo/],
      [{ loss: "napo", rewardMargin: "none", marginGamma: 1 }, /--reward-margin none adds no margin/],
      [{ loss: "napo", rewardMargin: "fixed", marginTau: 2 }, /apply to --reward-margin dynamic, not fixed/],
      [{ loss: "napo", marginGamma: -1 }, /--margin-gamma must be a finite number >= 0/],
      [{ loss: "napo", marginTau: 0 }, /--margin-tau must be a finite number > 0/],
    ];
    for (const [flags, message] of cases) {
      const args = { ...base, ...flags } as TrainArgs;
      expect({ flags, message: thrownBy(() => variantOptions(args)).message }).toEqual({ flags, message: expect.stringMatching(message) });
      expect((await rejectionOf(runTrain(args))).message).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
  });

  test("the new flags are in --help and their choices are checked", async () => {
    const parse = (argv: string[]) =>
      new Promise<string>((resolve) => {
        yargs(argv)
          .command({ ...trainCommand, handler: () => resolve("ran") })
          .strict()
          .exitProcess(false)
          .fail((msg) => resolve(String(msg)))
          .parse();
      });
    const common = ["train", "--data", data, "--config", "tiny", "--out", "x"];
    expect(await parse([...common, "--loss", "napo", "--reward-margin", "wide"])).toMatch(/Invalid values/);
    expect(await parse([...common, "--loss", "sdpo", "--negative-sampling", "smart"])).toMatch(/Invalid values/);
    expect(await parse([...common, "--loss", "napo", "--in-batch-negatives", "--reward-margin", "dynamic", "--margin-tau", "2"])).toBe("ran");
    const help = await new Promise<string>((resolve) => {
      yargs().command(trainCommand).exitProcess(false).parse(["train", "--help"], {}, (_err, _argv, output) => resolve(output));
    });
    for (const flag of ["--in-batch-negatives", "--in-batch-cap", "--negative-sampling", "--pool-size", "--pool-refresh-steps", "--reward-margin", "--margin-gamma", "--margin-tau"]) {
      expect(help).toContain(flag);
    }
  });
});
