/** `sdpo baseline` and `sdpo baseline eval` through the CLI's main(argv), on the hand-made files. */
import * as fs from "fs";
import * as path from "path";
import { main } from "../../src/cli/main";
import { BaselineFiles, TRAIN_ROWS } from "./fixtures";
import { nonCamelCaseKeys } from "../helpers";

async function sdpo(argv: string[]): Promise<{ error?: string; stdout: string }> {
  const out: string[] = [];
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await main(argv);
    return { stdout: out.join("") };
  } catch (e) {
    return { error: (e as Error).message, stdout: out.join("") };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

let files: BaselineFiles;
beforeAll(() => {
  files = new BaselineFiles();
});
afterAll(() => files.remove());

describe("sdpo baseline", () => {
  test("fit, save, then eval the folder: the hand-worked ranks as JSON, and a table", async () => {
    const out = files.path("cooc");
    let r = await sdpo(["baseline", "--kind", "cooccurrence", "--data", files.train, "--out", out]);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toMatch(/cooccurrence baseline fitted on .*train\.arrow, saved to/);
    expect(JSON.parse(fs.readFileSync(path.join(out, "baseline.json"), "utf8")).kind).toBe("cooccurrence");

    r = await sdpo(["baseline", "eval", out, "--data", files.eval, "--json"]);
    expect(r.error).toBeUndefined();
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ kind: "cooccurrence", rows: 7, ranks: [2, 3, 2, 3, 4, 2, 1] });
    expect(json.hr1).toBeCloseTo(1 / 7, 12);
    expect(json.rankHr1).toBe(json.hr1); // the key sdpo eval --json gives a model's ranking HR@1
    expect(nonCamelCaseKeys(json)).toEqual([]);
    // Popularity counted on the training file baseline.json records (head: C; one evaluation target is C).
    expect(json.popularityBias).toMatchObject({ measured: true, source: { file: files.train, rows: 5 }, catalogueItems: 6, headItems: 1, headRows: 1, tailRows: 6 });
    expect(json.popularityBias.ranking).toMatchObject({ rows: 7, hr1Head: 1, hr1Tail: 0 });

    r = await sdpo(["baseline", "eval", out, "--data", files.eval, "--max-rows", "3"]);
    // Ranks 2, 3, 2: HR@1 0, HR@3 1, NDCG@3 = (2 / log2(3) + 1 / 2) / 3 = 0.5873.
    expect(r.stdout).toMatch(/^method +\| +HR@1 \| +ValidRatio \| +HR@3/);
    expect(r.stdout).toMatch(/cooccurrence \| 0\.0000 \[0\.00, 0\.00\] \| 1\.0000 \[1\.00, 1\.00\] \| 1\.0000 \[1\.00, 1\.00\] \| 1\.0000 \[1\.00, 1\.00\] \| 0\.5873 \[[0-9.]+, [0-9.]+\] \| 0\.5873 \[[0-9.]+, [0-9.]+\] \| 0\.0000 \[0\.00, 0\.00\] \| +3\n/);
    expect(r.stdout).toMatch(/popularity bias of the top-1 item: .* head = the 1 most popular of 6 items/);
    expect(r.stdout).toMatch(/\ncooccurrence \| ranking +\| +3 \| .*\| +0\/3\n/);
  });

  test("baseline eval: popularity from --train-data, or left out when the recorded training file changed", async () => {
    const train = files.write("train-for-bias.arrow", TRAIN_ROWS);
    const out = files.path("popularity-bias");
    expect((await sdpo(["baseline", "--kind", "popularity", "--data", train, "--out", out])).error).toBeUndefined();
    const measured = JSON.parse((await sdpo(["baseline", "eval", out, "--data", files.eval, "--json"])).stdout).popularityBias;
    expect(measured).toMatchObject({ measured: true, source: { file: train } });

    files.write("train-for-bias.arrow", TRAIN_ROWS.slice(0, 4));
    const changed = JSON.parse((await sdpo(["baseline", "eval", out, "--data", files.eval, "--json"])).stdout).popularityBias;
    expect(changed).toEqual({ measured: false, reason: expect.stringMatching(/train-for-bias\.arrow has changed since training .*baseline\.json records .*; pass --train-data FILE/) });
    const table = (await sdpo(["baseline", "eval", out, "--data", files.eval])).stdout;
    expect(table).toMatch(/\npopularity bias of popularity: not measured: .*has changed since training/);

    const given = JSON.parse((await sdpo(["baseline", "eval", out, "--data", files.eval, "--json", "--train-data", files.train])).stdout).popularityBias;
    expect(given).toEqual({ ...measured, source: { ...measured.source, file: files.train } });
    const otherItems = files.write("other-items.arrow", [[["A"], "B", ["B", "C"]]], ["A", "B", "C"]);
    expect((await sdpo(["baseline", "eval", out, "--data", files.eval, "--train-data", otherItems])).error).toMatch(
      /other-items\.arrow: another item vocabulary than the baseline's training file/
    );
  });

  test("sasrec with --eval: trains, saves a model folder and prints its metrics", async () => {
    const out = files.path("sasrec");
    const r = await sdpo(["baseline", "--kind", "sasrec", "--data", files.train, "--out", out, "--epochs", "2", "--seed", "1", "--eval", files.eval, "--json"]);
    expect(r.error).toBeUndefined();
    const json = JSON.parse(r.stdout);
    expect(json.kind).toBe("sasrec");
    expect(json.ranks).toHaveLength(7);
    expect(fs.existsSync(path.join(out, "config.json"))).toBe(true);
    const again = JSON.parse((await sdpo(["baseline", "eval", out, "--data", files.eval, "--json"])).stdout);
    expect(again.ranks).toEqual(json.ranks);
  });

  test("usage errors: one clear message each", async () => {
    expect((await sdpo(["baseline", "--kind", "popularity", "--data", files.train])).error).toMatch(/needs --kind, --data and --out/);
    expect((await sdpo(["baseline", "--kind", "popularity", "--data", files.path("none.arrow"), "--out", files.path("x")])).error).toMatch(
      /--data .*none\.arrow: no such file/
    );
    const out = files.path("twice");
    expect((await sdpo(["baseline", "--kind", "random", "--data", files.train, "--out", out])).error).toBeUndefined();
    expect((await sdpo(["baseline", "--kind", "random", "--data", files.train, "--out", out])).error).toMatch(/already exists; pass --overwrite/);
    expect((await sdpo(["baseline", "--kind", "random", "--data", files.train, "--out", out, "--overwrite", "--seed", "2"])).error).toBeUndefined();
    expect((await sdpo(["baseline", "--kind", "sasrec", "--data", files.train, "--out", files.path("y"), "--epochs", "0"])).error).toMatch(
      /--epochs must be a whole number in \[1, 10000\], got 0/
    );
    expect((await sdpo(["baseline", "eval", files.path("nothing"), "--data", files.eval])).error).toMatch(/nothing: no such folder/);
    expect((await sdpo(["baseline", "eval", files.dir, "--data", files.eval])).error).toMatch(/no baseline\.json/);
  });
});
