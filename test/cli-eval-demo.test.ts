/**
 * `sdpo eval` / `sdpo demo` argument errors through the CLI's exported main(argv), and the demo's folder
 * and data helpers. Nothing here loads a model: every case fails (or is checked) before that.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main } from "../src/cli/main";
import { prepareOutputFolder } from "../src/cli/commands/demo";
import { firstRows, packageRoot, shippedLastfm } from "../src/cli/demo-data";
import { DEMO_RECIPE, demoModelConfig, QUICK_RECIPE } from "../src/cli/demo-recipe";
import { presetConfig } from "../src/model/config";
import type { PreferenceBatch } from "../src/data/batch";

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-cli-"));
}

/**
 * Runs the CLI in-process, capturing stdout and stderr. A failing command makes main() reject (the bin
 * script prints `sdpo: <message>` and exits 1); `error` is that message.
 */
async function sdpo(argv: string[]): Promise<{ error?: string; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
  try {
    await main(argv);
    return { stdout: out.join(""), stderr: err.join("") };
  } catch (e) {
    return { error: (e as Error).message, stdout: out.join(""), stderr: err.join("") };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe("sdpo eval argument errors", () => {
  test("a missing model folder: one clear message, no usage text", async () => {
    const r = await sdpo(["eval", "--model", "/nonexistent/model-dir", "--data", "x.arrow"]);
    expect(r.error).toBe("--model /nonexistent/model-dir: no such folder");
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(""); // no usage text
  });

  test("a folder without config.json, a missing data file, a bad batch size", async () => {
    const dir = tmpdir();
    let r = await sdpo(["eval", "--model", dir, "--data", "x.arrow"]);
    expect(r.error).toMatch(/has no config\.json \(nor adapter_config\.json\); not a Hugging Face model folder/);

    fs.writeFileSync(path.join(dir, "config.json"), "{}");
    r = await sdpo(["eval", "--model", dir, "--data", path.join(dir, "missing.arrow")]);
    expect(r.error).toMatch(/--data .*missing\.arrow: no such file/);

    const data = path.join(dir, "valid.arrow");
    fs.writeFileSync(data, "");
    r = await sdpo(["eval", "--model", dir, "--data", data, "--batch-size", "0"]);
    expect(r.error).toMatch(/--batch-size must be a whole number in \[1, 65536\], got 0/);
    r = await sdpo(["eval", "--model", dir, "--data", data, "--max-rows", "many"]);
    expect(r.error).toMatch(/--max-rows must be a whole number in \[1, 2147483647\], got a value that is not a number/);

    r = await sdpo(["eval", "--model", dir, "--data", data, "--no-generation", "--no-ranking"]);
    expect(r.error).toMatch(/leave nothing to measure/);
  });
});

describe("sdpo demo output folder", () => {
  test("a non-empty folder not made by the demo is refused, untouched", async () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, "thesis.tex"), "precious");
    const r = await sdpo(["demo", "--out", dir]);
    expect(r.error).toMatch(/not empty and was not written by `sdpo demo` \(thesis\.tex\); choose another --out or pass --overwrite/);
    expect(fs.readdirSync(dir)).toEqual(["thesis.tex"]);
  });

  test("--overwrite replaces only the demo's own entries; an earlier demo folder is reused", () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, "thesis.tex"), "precious");
    fs.mkdirSync(path.join(dir, "sft"));
    fs.writeFileSync(path.join(dir, "sft", "old.bin"), "x");
    prepareOutputFolder(dir, true);
    expect(fs.readdirSync(dir).sort()).toEqual([".sdpo-demo.json", "thesis.tex"]);
    expect(fs.readFileSync(path.join(dir, "thesis.tex"), "utf8")).toBe("precious");

    fs.mkdirSync(path.join(dir, "plots"));
    prepareOutputFolder(dir, false); // has the marker: an earlier demo
    expect(fs.existsSync(path.join(dir, "plots"))).toBe(false);

    const file = path.join(dir, "thesis.tex");
    expect(() => prepareOutputFolder(file, true)).toThrow(/exists and is not a folder/);
    const fresh = path.join(tmpdir(), "new", "demo");
    prepareOutputFolder(fresh, false);
    expect(fs.readdirSync(fresh)).toEqual([".sdpo-demo.json"]);
  });
});

describe("demo data", () => {
  test("the package root and the shipped LastFM files are found from the source folder, not the cwd", () => {
    const root = packageRoot();
    expect(JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).name).toBe("softmax-dpo");
    const cwd = process.cwd();
    try {
      process.chdir(os.tmpdir());
      expect(packageRoot()).toBe(root);
    } finally {
      process.chdir(cwd);
    }
    expect(() => shippedLastfm(tmpdir())).toThrow(/the shipped LastFM data is incomplete: .*train\.arrow is missing/);
  });

  test("firstRows stops each pass after the limit, in whole batches", async () => {
    const batch = (size: number): PreferenceBatch => ({ size } as PreferenceBatch);
    const source = {
      countRows: async () => 10,
      async *batches(_request: { batchSize: number }) {
        for (let i = 0; i < 5; i++) yield batch(2);
      },
    };
    const limited = await firstRows(source, 4);
    expect(limited.numRows).toBe(4);
    const sizes: number[] = [];
    for await (const b of limited.batches({ batchSize: 2 })) sizes.push(b.size);
    expect(sizes).toEqual([2, 2]);
    expect((await firstRows(source, undefined)).numRows).toBe(10);
    expect((await firstRows(source, 50)).numRows).toBe(10);
  });
});

describe("demo recipe", () => {
  test("the decoder shape follows the overrides, head_dim included; uneven heads are refused", () => {
    const config = demoModelConfig({ ...DEMO_RECIPE, preset: "tiny", modelOverrides: { hidden_size: 96, num_attention_heads: 3, num_key_value_heads: 1 } }, presetConfig, 4096);
    expect(config).toMatchObject({ hidden_size: 96, num_attention_heads: 3, num_key_value_heads: 1, head_dim: 32, vocab_size: 4096 });
    expect(() => demoModelConfig({ ...DEMO_RECIPE, modelOverrides: { hidden_size: 100, num_attention_heads: 3 } }, presetConfig, 4096)).toThrow(/do not divide evenly/);
    for (const recipe of [DEMO_RECIPE, QUICK_RECIPE]) expect(() => demoModelConfig(recipe, presetConfig, 4096)).not.toThrow();
  });
});

