import { readFileSync } from "fs";
import { join } from "path";
import { buildLastfm, LASTFM, splitRows } from "../../src/data/lastfm_build";
import { PreferenceDataset } from "../../src/data/dataset";
import { TempDir } from "./fixtures";

const committed = join(__dirname, "..", "..", "datasets", "lastfm");

describe("datasets/lastfm", () => {
  it("splits 2767 rows into disjoint train/valid parts that cover them all", () => {
    const { train, valid } = splitRows(2767, LASTFM.seed, LASTFM.validRows);
    expect([train.length, valid.length]).toEqual([2500, 267]);
    expect(new Set([...train, ...valid]).size).toBe(2767);
  });

  it("regenerates the committed tokenizer and Arrow files byte for byte", async () => {
    const dir = new TempDir();
    try {
      expect(await buildLastfm(committed, dir.path)).toEqual({ train: 2500, valid: 267 });
      for (const f of LASTFM.outputs) expect(readFileSync(dir.file(f)).equals(readFileSync(join(committed, f)))).toBe(true);
    } finally {
      dir.remove();
    }
  });

  it("reads back with 20 candidates per row and shared item ids", async () => {
    const train = PreferenceDataset.fromArrow(join(committed, "train.arrow"));
    const valid = PreferenceDataset.fromArrow(join(committed, "valid.arrow"));
    expect(await train.countRows()).toBe(2500);
    expect(await valid.validate({ negatives: 19, negativeSampling: "random" })).toEqual({ rows: 267 });
    expect((await train.metadata()).items).toEqual((await valid.metadata()).items);
    expect((await train.metadata()).tokenizer?.vocabSize).toBe(4096);
  });
});
