/**
 * Numeric and output-path flags: checked while yargs parses, before a command reads or writes anything
 * (the issue 12 cases: sizes that allocate without bound, counts that loop, paths that spin or misplace output).
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { main } from "../src/cli/main";
import { checkNumber, checkOutputPath, maxThreads } from "../src/cli/flags";

const dir = mkdtempSync(join(tmpdir(), "sdpo-flags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cliError(argv: string[]): Promise<string> {
  const started = Date.now();
  try {
    await main(argv);
  } catch (err) {
    expect(Date.now() - started).toBeLessThan(5000);
    return (err as Error).message;
  }
  throw new Error(`sdpo ${argv.join(" ")} did not fail`);
}

describe("numeric flags", () => {
  it("take whole numbers in range only, naming the flag, the range and the value", () => {
    const range = { min: 1, max: 10 };
    expect(checkNumber("batch-rows", 3, range, true)).toBe(3);
    expect(() => checkNumber("batch-rows", 0, range, true)).toThrow("--batch-rows must be a whole number in [1, 10], got 0");
    expect(() => checkNumber("batch-rows", 2.5, range, true)).toThrow("--batch-rows must be a whole number in [1, 10], got 2.5");
    expect(() => checkNumber("batch-rows", NaN, range, true)).toThrow("--batch-rows must be a whole number in [1, 10], got a value that is not a number");
    expect(() => checkNumber("batch-rows", Infinity, range, true)).toThrow(/got null|not a number|Infinity/);
    expect(() => checkNumber("seed", [1, 2], range, true)).toThrow("--seed is given 2 times; give it once");
    expect(checkNumber("beta", 0.5, { above: 0 }, false)).toBe(0.5);
    expect(() => checkNumber("beta", 0, { above: 0 }, false)).toThrow("--beta must be a finite number > 0, got 0");
    expect(() => checkNumber("adam-beta1", 1, { min: 0, below: 1 }, false)).toThrow("--adam-beta1 must be a finite number in [0, 1), got 1");
  });

  it.each([
    [["bench", "--prompt-len", "1e9"], "--prompt-len must be a whole number in [1, 131072], got 1000000000"],
    [["bench", "--threads", "100000"], `--threads must be a whole number in [1, ${maxThreads()}], got 100000`],
    [["bench", "--vocab", "1000000", "--dim", "60000"], "more than the machine's"],
    [["convert", "--input", "x.json", "--output", "o.arrow", "--batch-rows", "0"], "--batch-rows must be a whole number in [1, 1048576], got 0"],
    [["convert", "--input", "x.json", "--output", "o.arrow", "--batch-rows", "-1"], "--batch-rows must be a whole number in [1, 1048576], got -1"],
    [["convert", "--input", "x.json", "--output", "o.arrow", "--batch-rows", "abc"], "--batch-rows must be a whole number in [1, 1048576], got a value that is not a number"],
    [["convert", "--input", "x.json", "--output", "o.arrow", "--negatives", "-1"], "--negatives must be a whole number in [0, 4096], got -1"],
    [["convert", "--input", "x.json", "--output", "o.arrow", "--negatives", "abc"], "--negatives must be a whole number"],
    [["convert", "--input", "x.json", "--output", "o.arrow", "--negatives", "2.5"], "--negatives must be a whole number in [0, 4096], got 2.5"],
    [["convert", "--input", "x.json", "--output", "o.arrow", "--seed", "abc"], "--seed must be a whole number in [0, 4294967295]"],
    [["tokenizer", "train", "--input", "x.json", "--output", "t.json", "--vocab-size", "1e12"], "--vocab-size must be a whole number in [257, 1048576], got 1000000000000"],
    [["train", "--loss", "sdpo", "--data", "d.arrow", "--config", "tiny", "--out", "runs/x", "--learning-rate", "-1"], "--learning-rate must be a finite number >= 0, got -1"],
    [["train", "--loss", "sdpo", "--data", "d.arrow", "--config", "tiny", "--out", "runs/x", "--batch-size", "1.5"], "--batch-size must be a whole number in [1, 65536], got 1.5"],
    [["train", "--loss", "sdpo", "--data", "d.arrow", "--config", "tiny", "--out", "runs/x", "--warmup-ratio", "2"], "--warmup-ratio must be a finite number in [0, 1], got 2"],
  ])("sdpo %j fails at once: %s", async (argv, message) => {
    expect(await cliError(argv)).toContain(message);
  });
});

describe("output paths", () => {
  it("refuse empty paths, special file systems, missing parent folders and the wrong kind of entry", () => {
    expect(() => checkOutputPath("out", "", "folder")).toThrow('--out must name a folder, got ""');
    expect(() => checkOutputPath("out", "  ", "folder")).toThrow("--out must name a folder");
    expect(() => checkOutputPath("out", "/proc/x", "folder")).toThrow("--out /proc/x: /proc is a special file system, not a place for output");
    expect(() => checkOutputPath("output", "/sys/kernel/x.arrow", "file")).toThrow("/sys is a special file system");
    expect(() => checkOutputPath("output", "/dev/null", "file")).toThrow("/dev is a special file system");
    expect(() => checkOutputPath("output", join(dir, "no/such/o.arrow"), "file")).toThrow(`folder ${join(dir, "no/such")} does not exist`);
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    expect(() => checkOutputPath("out", file, "folder")).toThrow(`--out ${file}: exists and is not a folder`);
    expect(() => checkOutputPath("output", dir, "file")).toThrow(`--output ${dir}: exists and is not a regular file`);
    expect(checkOutputPath("out", join(dir, "new/run"), "folder")).toBe(join(dir, "new/run"));
    expect(checkOutputPath("output", join(dir, "o.arrow"), "file")).toBe(join(dir, "o.arrow"));
  });

  // root writes anywhere: there is nothing to refuse, so the case is reported as skipped.
  (process.getuid?.() === 0 ? it.skip : it)("refuse a folder that cannot be written", () => {
    expect(() => checkOutputPath("output", "/o.arrow", "file")).toThrow("--output /o.arrow: / is not writable");
  });

  it("stop sdpo train before it trains or writes (--out /proc/x used to spin, --out '' trained into the current folder)", async () => {
    const base = ["train", "--loss", "sdpo", "--data", "datasets/lastfm/valid.arrow", "--config", "tiny"];
    expect(await cliError([...base, "--out", "/proc/x"])).toBe("--out /proc/x: /proc is a special file system, not a place for output");
    expect(await cliError([...base, "--out", ""])).toBe('--out must name a folder, got ""');
    expect(existsSync("train_log.jsonl")).toBe(false);
  });
});

describe("input files", () => {
  it("a FIFO given as --input, --template or --tokenizer is refused at once, not waited on", async () => {
    const fifo = join(dir, "input.fifo");
    require("child_process").execFileSync("mkfifo", [fifo]);
    const started = Date.now();
    expect(await cliError(["convert", "--input", fifo, "--output", join(dir, "x.arrow")])).toBe(`cannot read input ${fifo}: ${fifo}: is a FIFO, not a regular file`);
    expect(await cliError(["tokenizer", "train", "--input", fifo, "--output", join(dir, "t.json")])).toBe(`${fifo}: is a FIFO, not a regular file`);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
