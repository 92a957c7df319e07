/**
 * Shipped datasets from any folder: `shippedDataset("lastfm")` from the package index, and the CLI's dataset
 * names (--data lastfm / lastfm:valid, --eval lastfm, --tokenizer lastfm) in `sdpo eval`, `sdpo train` and
 * `sdpo baseline`, run from a temporary folder that holds none of the files. Also `sdpo eval --no-generation`
 * without any tokenizer, and --tokenizer when the data has none beside it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shippedDataset, SHIPPED_DATASETS } from "../src";
import { datasetReference, resolveDataArg, resolveTokenizerArg } from "../src/cli/data-arg";
import { main } from "../src/cli/main";
import { PreferenceDataset } from "../src/data/dataset";
import { Tokenizer } from "../src/data/tokenizer";
import { createModel, saveModel } from "../src/model/checkpoint";
import { presetConfig } from "../src/model/config";

const root = path.resolve(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-datasets-"));
const cwd = process.cwd();
afterAll(() => {
  process.chdir(cwd);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * The CLI in-process from `dir`. `error` is the message main() rejects with (the bin prints it as one line), or
 * the line a command that reports its own failure (sdpo train) wrote to stderr with exit code 1.
 */
async function sdpoIn(dir: string, argv: string[]): Promise<{ error?: string; stdout: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
  process.chdir(dir);
  try {
    await main(argv);
    if (process.exitCode === 1) return { error: err.join("").trim(), stdout: out.join("") };
    return { stdout: out.join("") };
  } catch (e) {
    return { error: (e as Error).message, stdout: out.join("") };
  } finally {
    process.exitCode = undefined;
    process.chdir(cwd);
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

function folder(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

describe("shippedDataset (package index)", () => {
  test("lastfm: absolute paths of both splits and the tokenizer, the same from any folder", () => {
    expect(SHIPPED_DATASETS).toEqual(["lastfm"]);
    const here = shippedDataset("lastfm");
    const dir = path.join(root, "datasets", "lastfm");
    expect(here).toEqual({
      name: "lastfm",
      dir,
      train: path.join(dir, "train.arrow"),
      valid: path.join(dir, "valid.arrow"),
      tokenizer: path.join(dir, "tokenizer.json"),
    });
    for (const f of [here.train, here.valid, here.tokenizer]) expect(path.isAbsolute(f) && fs.existsSync(f)).toBe(true);
    process.chdir(tmp);
    try {
      expect(shippedDataset("lastfm")).toEqual(here);
    } finally {
      process.chdir(cwd);
    }
  });

  test("an unknown name lists the shipped ones; a package missing a file names it", () => {
    expect(() => shippedDataset("movielens")).toThrow('no shipped dataset named "movielens" (shipped: lastfm)');
    expect(() => shippedDataset("lastfm", tmp)).toThrow(/the shipped LastFM data is incomplete: .*datasets\/lastfm\/train\.arrow is missing/);
  });
});

describe("dataset names in CLI flags", () => {
  test("lastfm is the flag's default split, lastfm:<split> names one, anything else is a path", () => {
    const d = shippedDataset("lastfm");
    expect(resolveDataArg("lastfm", "train", "--data")).toEqual({ file: d.train, dataset: "lastfm", tokenizer: d.tokenizer });
    expect(resolveDataArg("lastfm", "valid", "--data").file).toBe(d.valid);
    expect(resolveDataArg("lastfm:train", "valid", "--eval").file).toBe(d.train);
    expect(resolveDataArg("lastfm:valid", "train", "--data").file).toBe(d.valid);
    expect(() => resolveDataArg("lastfm:test", "valid", "--data")).toThrow(
      "--data lastfm:test: the shipped dataset lastfm has the splits train and valid (lastfm:train, lastfm:valid)"
    );
    for (const p of ["./lastfm", "lastfm.arrow", "data/lastfm", "/abs/lastfm", "movielens"]) {
      expect(resolveDataArg(p, "train", "--data")).toEqual({ file: p });
      expect(resolveTokenizerArg(p)).toBe(p);
    }
    expect(datasetReference("lastfm")).toEqual({ name: "lastfm" });
    expect(resolveTokenizerArg("lastfm")).toBe(d.tokenizer);
    expect(() => resolveTokenizerArg("lastfm:valid")).toThrow(/name the dataset alone \(lastfm\)/);
  });

  test("sdpo baseline --data lastfm --eval lastfm and baseline eval --data lastfm, from a folder without the files", async () => {
    const dir = folder("baseline");
    let r = await sdpoIn(dir, ["baseline", "--kind", "popularity", "--data", "lastfm", "--out", "pop", "--eval", "lastfm", "--json"]);
    expect(r.error).toBeUndefined();
    const validRows = await PreferenceDataset.fromArrow(shippedDataset("lastfm").valid).countRows();
    expect(JSON.parse(r.stdout).rows).toBe(validRows); // --eval lastfm: the validation split
    r = await sdpoIn(dir, ["baseline", "eval", "pop", "--data", "lastfm:valid", "--json"]);
    expect(r.error).toBeUndefined();
    expect(JSON.parse(r.stdout).rows).toBe(validRows);
  });

  test("sdpo train resolves --data, --eval and --tokenizer lastfm before checking the other flags", async () => {
    const dir = folder("train");
    // Every file resolved: the run then stops at the first flag problem, before writing anything.
    let r = await sdpoIn(dir, ["train", "--loss", "sft", "--config", "tiny", "--data", "lastfm", "--eval", "lastfm", "--tokenizer", "lastfm", "--out", "run"]);
    expect(r.error).toBe("sdpo train: --subsequence-rows, --copy-rows, --skip-rows and --tokenizer re-render training rows: they need --redraw-candidates");
    r = await sdpoIn(dir, ["train", "--loss", "sft", "--config", "tiny", "--data", "lastfm:test", "--out", "run"]);
    expect(r.error).toMatch(/^sdpo train: --data lastfm:test: the shipped dataset lastfm has the splits train and valid/);
    r = await sdpoIn(dir, ["train", "--loss", "sft", "--config", "tiny", "--data", "./lastfm", "--out", "run"]);
    expect(r.error).toBe("sdpo train: --data ./lastfm: no such file");
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("sdpo eval with a shipped dataset and tokenizers", () => {
  let model: string;
  beforeAll(async () => {
    // A random tiny model saved without tokenizer.json: the tokenizer must come from elsewhere, or not be needed.
    model = path.join(folder("models"), "tiny");
    const m = createModel(presetConfig("tiny", Tokenizer.fromFile(shippedDataset("lastfm").tokenizer).vocabSize), { seed: 3 });
    await saveModel(m, model);
    m.native.dispose();
    expect(fs.existsSync(path.join(model, "tokenizer.json"))).toBe(false);
  });

  test("--data lastfm --no-generation: ranking on the validation split, no tokenizer asked for", async () => {
    const r = await sdpoIn(folder("eval-ranking"), ["eval", "--model", model, "--data", "lastfm", "--no-generation", "--max-rows", "4", "--resamples", "10", "--json"]);
    expect(r.error).toBeUndefined();
    const json = JSON.parse(r.stdout);
    expect(json.rows).toBe(4);
    expect(json.hr1).toBeNull();
    expect(json.hr3).toBeGreaterThanOrEqual(0);
  });

  test("a split with no tokenizer beside it: generation asks for --tokenizer; --tokenizer lastfm supplies it", async () => {
    const dir = folder("eval-copy");
    fs.copyFileSync(shippedDataset("lastfm").valid, path.join(dir, "valid.arrow"));
    const args = ["eval", "--model", model, "--data", "valid.arrow", "--max-rows", "2", "--max-new-tokens", "2", "--resamples", "10", "--json"];
    let r = await sdpoIn(dir, args);
    expect(r.error).toMatch(/^no tokenizer\.json in .* or .*: pass --tokenizer FILE \(generation decodes its outputs; --no-generation needs none\)$/);
    r = await sdpoIn(dir, [...args, "--no-generation"]);
    expect(r.error).toBeUndefined();
    r = await sdpoIn(dir, [...args, "--tokenizer", "lastfm"]);
    expect(r.error).toBeUndefined();
    const json = JSON.parse(r.stdout);
    expect(json.rows).toBe(2);
    expect(json.hr1).toBeGreaterThanOrEqual(0);
    r = await sdpoIn(dir, [...args, "--tokenizer", "missing.json"]);
    expect(r.error).toBe("--tokenizer missing.json: no such file");
  });
});
