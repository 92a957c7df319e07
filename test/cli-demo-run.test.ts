/**
 * `sdpo demo --quick --seeds 2 --negatives-figure` end to end on the shipped data (seconds): the table holds the
 * three methods and the baselines with intervals, the pooled results keep both seeds, the paired comparisons and
 * the negatives figure are written.
 */
import * as fs from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { PassThrough } from "stream";
import { defaultDemoRanks, runDemo } from "../src/cli/commands/demo";
import { readJsonl } from "../src/report/jsonl";
import { DEMO_RECIPE, NAMING_STAGE, QUICK_RECIPE } from "../src/cli/demo-recipe";

jest.setTimeout(300_000);

test("quick demo over two seeds from --seed 7 with the negatives figure", async () => {
  const out = fs.mkdtempSync(path.join(tmpdir(), "sdpo-demo-run-"));
  const stdout = new PassThrough();
  let printed = "";
  stdout.on("data", (d) => (printed += String(d)));
  try {
    const result = await runDemo({ out, seeds: 2, seed: 7, negativesFigure: true, nproc: 1 }, { out: stdout, err: new PassThrough() }, QUICK_RECIPE);
    expect(result.results.map((r) => r.method)).toEqual(["SFT", "DPO", "S-DPO", "random", "popularity", "cooccurrence"]);
    for (const name of ["sft", "dpo", "sdpo", "random", "popularity", "cooccurrence"]) expect(result.perSeed[name]).toHaveLength(2);
    const sdpo = result.results[2].result as unknown as { seeds: number; perSeed: { hr3: number[] }; hr3: number; intervals: { hr3: [number, number] } };
    expect(sdpo.seeds).toBe(2);
    expect(sdpo.hr3).toBeCloseTo((sdpo.perSeed.hr3[0] + sdpo.perSeed.hr3[1]) / 2, 12);
    expect(sdpo.intervals.hr3[0]).toBeLessThanOrEqual(sdpo.hr3);
    expect(sdpo.intervals.hr3[1]).toBeGreaterThanOrEqual(sdpo.hr3);
    // The popularity baseline does not depend on the seed; random does.
    expect(result.perSeed.popularity[0].perRow.rank).toEqual(result.perSeed.popularity[1].perRow.rank);
    expect(result.comparisons.map((c) => `${c.a}-${c.b}`)).toEqual(expect.arrayContaining(["sdpo-dpo", "dpo-sft", "sdpo-cooccurrence"]));
    for (const c of result.comparisons) expect(c.estimate.probabilityPositive).toBeGreaterThanOrEqual(0);
    expect(result.negatives!.map((n) => n.k)).toEqual(QUICK_RECIPE.negativesFigure);
    expect(fs.readFileSync(path.join(out, "plots", "negatives.svg"), "utf8")).toMatch(/<svg[\s\S]*negatives K[\s\S]*<\/svg>\s*$/);
    expect(printed).toMatch(/S-DPO - DPO +hr1 +[+-]\d\.\d{4} \[-?\d\.\d\d, -?\d\.\d\d\] +P\(>0\) \d\.\d\d/);
    expect(printed).toMatch(/cooccurrence \| \d\.\d{4} \[/);
    const saved = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    expect(saved.seeds).toEqual([7, 8]);
    expect(fs.existsSync(path.join(out, "seed-8", "sdpo", "config.json"))).toBe(true);
    await expect(runDemo({ out, seed: -1 }, { out: new PassThrough(), err: new PassThrough() }, QUICK_RECIPE)).rejects.toThrow(/--seed must be an integer from 0/);
    await expect(runDemo({ out, quick: true, full: true }, { out: new PassThrough(), err: new PassThrough() })).rejects.toThrow(/--quick and --full are two different recipes/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("--resume evaluates the models an interrupted demo saved instead of training them again", async () => {
  const out = fs.mkdtempSync(path.join(tmpdir(), "sdpo-demo-resume-"));
  const quiet = { out: new PassThrough(), err: new PassThrough() };
  try {
    // With the naming stage: it continues the SFT model and logs on its own.
    const first = await runDemo({ out, nproc: 1 }, quiet, { ...QUICK_RECIPE, naming: NAMING_STAGE });
    expect(fs.readFileSync(path.join(out, "logs", "sft-naming.jsonl"), "utf8")).toMatch(/"type":"step"/);
    const sftWeights = path.join(out, "sft", "model.safetensors");
    const stamp = fs.statSync(sftWeights).mtimeMs;
    fs.rmSync(path.join(out, "sdpo"), { recursive: true }); // interrupted before S-DPO was saved
    fs.rmSync(path.join(out, "logs", "dpo.jsonl")); // and a kept model's log removed since
    let log = "";
    const err = new PassThrough();
    err.on("data", (d) => (log += String(d)));
    const again = await runDemo({ out, resume: true, nproc: 1 }, { out: new PassThrough(), err }, QUICK_RECIPE);
    expect(log).toMatch(/sft: kept from the earlier run/);
    expect(log).toMatch(/dpo: kept from the earlier run/);
    expect(log).not.toMatch(/sdpo: kept/);
    expect(log).toMatch(/plots: .*dpo\.jsonl missing; dpo-vs-sdpo\.svg not drawn/);
    expect(fs.statSync(sftWeights).mtimeMs).toBe(stamp);
    // The kept models evaluate as before: same rows, same outcomes.
    expect(again.perSeed.sft[0].perRow).toEqual(first.perSeed.sft[0].perRow);
    expect(again.perSeed.dpo[0].perRow).toEqual(first.perSeed.dpo[0].perRow);
    await expect(runDemo({ out: path.join(out, "missing"), resume: true }, quiet, QUICK_RECIPE)).rejects.toThrow(/holds no earlier demo/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("--nproc 2 trains the SFT stage on two data-parallel processes: the same global batches as one process", async () => {
  const root = fs.mkdtempSync(path.join(tmpdir(), "sdpo-demo-ranks-"));
  // The ranks run the TypeScript sources, compiled by the same swc as jest.
  const rankCommand = { command: process.execPath, args: ["-r", path.join(__dirname, "distributed", "swc-register.js"), path.join(__dirname, "..", "src", "cli", "demo-sft-rank.ts")] };
  const recipe = { ...QUICK_RECIPE, baselines: [] };
  try {
    let log = "";
    // Not a stream: an object with write() is enough for the ranks' output too.
    const err = { write: (chunk: unknown) => ((log += String(chunk)), true) } as unknown as NodeJS.WritableStream;
    const two = await runDemo({ out: path.join(root, "two"), nproc: 2 }, { out: new PassThrough(), err }, recipe, rankCommand);
    const one = await runDemo({ out: path.join(root, "one"), nproc: 1 }, { out: new PassThrough(), err: new PassThrough() }, recipe);
    expect(log).toMatch(/sft: 2 data-parallel ranks \(processes\), 16 of each batch's 32 rows on each/);
    expect(log).toMatch(/sft: 4 steps in .*final loss/); // rank 0's own lines
    // Rank 0 alone wrote the log: one line per step, each loss the one process's up to float summation order.
    const losses = (dir: string) => readJsonl(path.join(root, dir, "logs", "sft.jsonl")).filter((e) => e.type === "step").map((e) => e.loss as number);
    expect(losses("two")).toHaveLength(4);
    losses("two").forEach((loss, i) => expect(Math.abs(loss - losses("one")[i])).toBeLessThan(1e-3));
    for (const file of ["config.json", "model.safetensors", "tokenizer.json"]) expect(fs.existsSync(path.join(root, "two", "sft", file))).toBe(true);
    expect(two.perSeed.sdpo).toHaveLength(1);
    expect(one.perSeed.sft[0].rows).toBe(two.perSeed.sft[0].rows);
    // A batch that does not split over the ranks, and ranks on a GPU, are refused before anything is written.
    await expect(runDemo({ out: path.join(root, "odd"), nproc: 3 }, { out: new PassThrough(), err: new PassThrough() }, recipe, rankCommand)).rejects.toThrow(
      /--nproc 3: the recipe's sft batch of 32 rows does not split evenly over 3 ranks/
    );
    await expect(runDemo({ out: path.join(root, "gpu"), nproc: 2, device: "cuda" }, { out: new PassThrough(), err: new PassThrough() }, recipe)).rejects.toThrow(/--nproc 2: .*CPU processes/);
    expect(fs.existsSync(path.join(root, "odd"))).toBe(false);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("the demo's SFT runs on the recipe's ranks, at most one per core, on CPU; in one process on CUDA", () => {
  expect(DEMO_RECIPE.sftRanks).toBe(1);
  expect(defaultDemoRanks("cpu", 1, 2)).toBe(1);
  expect(defaultDemoRanks("cpu", 2, 1)).toBe(1);
  expect(defaultDemoRanks("cpu", 2, 2)).toBe(2);
  expect(defaultDemoRanks("cpu", 2, 16)).toBe(2);
  expect(defaultDemoRanks("cuda:0", 2, 16)).toBe(1);
});
