/** Item tokens: one added token per title, matched whole-word and longest-first, decoded back to the title. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { addItemTokens } from "../../src/data/item_tokens";
import { buildLastfmItemTokens } from "../../src/data/lastfm_build";
import { PreferenceDataset } from "../../src/data/dataset";
import { Tokenizer } from "../../src/data/tokenizer";

const dir = path.join(__dirname, "..", "..", "datasets", "lastfm");
const base = fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8");

describe("addItemTokens", () => {
  const titles = ["Iggy Pop", "Hope", "Hope Sandoval", "Queen", "Queen Latifah", "Hope", " ", "Ke$ha"];
  const json = addItemTokens(base, titles);
  const tokenizer = Tokenizer.fromString(json);
  const plain = Tokenizer.fromString(base);
  const id1 = async (text: string) => {
    const ids = await tokenizer.encode(text);
    expect(ids).toHaveLength(1);
    return ids[0];
  };

  test("one id per distinct non-empty title, after the existing ids; EOS and pad unchanged", () => {
    expect(tokenizer.vocabSize).toBe(plain.vocabSize + 6);
    expect(tokenizer.eosId).toBe(plain.eosId);
    expect(tokenizer.padId).toBe(plain.padId);
    expect(addItemTokens(json, titles)).toBe(json); // adding the same titles again changes nothing
  });

  test("a response and a listed title are one token; longest match first; decode gives the text back", async () => {
    const id = async (title: string) => {
      const ids = await tokenizer.encode(" " + title);
      expect(ids).toHaveLength(1);
      expect(ids[0]).toBeGreaterThanOrEqual(plain.vocabSize);
      return ids[0];
    };
    const text = "Choose from: Iggy Pop, Hope, Ke$ha, Queen Latifah, Queen. Answer:";
    const ids = Array.from(await tokenizer.encode(text));
    for (const title of ["Iggy Pop", "Hope", "Ke$ha", "Queen Latifah", "Queen"]) expect(ids).toContain(await id(title));
    expect(ids).not.toContain(await id("Hope Sandoval"));
    expect(await tokenizer.decode(Int32Array.from(ids))).toBe(text);
    expect(await tokenizer.encode(" Hope Sandoval")).toEqual(Int32Array.of(await id("Hope Sandoval")));
    // Titles outside the byte-level alphabet's ASCII decode to themselves too.
    const accented = Tokenizer.fromString(addItemTokens(base, ["Beyoncé", "Björk", "倖田來未"]));
    for (const title of ["Beyoncé", "Björk", "倖田來未"]) {
      const one = await accented.encode(" " + title);
      expect(one).toHaveLength(1);
      expect(await accented.decode(one)).toBe(" " + title);
    }
  });

  test("a title right after a word of the template is its token too; a word that starts with a title splits after it", async () => {
    const iggy = await id1(" Iggy Pop");
    const queen = await id1(" Queen");
    for (const text of ["music from these bands Iggy Pop, Queen recently", "the available options Iggy Pop, Queen? Answer:"]) {
      const ids = Array.from(await tokenizer.encode(text));
      expect(ids).toContain(iggy);
      expect(ids).toContain(queen);
    }
    // Not whole-word (see src/data/item_tokens.ts): " Hopeless", no title of its own, is " Hope" + "less".
    expect(Array.from(await tokenizer.encode(" Hopeless"))[0]).toBe(await id1(" Hope"));
  });

  test("a file that is not a tokenizer is refused, naming it", () => {
    expect(() => addItemTokens("{", ["A"], "broken.json")).toThrow(/broken\.json: not JSON/);
  });
});

describe("buildLastfmItemTokens", () => {
  test("the shipped split re-tokenized: same rows and items, every title one token", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-items-"));
    try {
      const counts = await buildLastfmItemTokens(dir, out);
      expect(counts).toMatchObject({ train: 2500, valid: 267, vocabSize: 4096 + 4606 });
      const shipped = PreferenceDataset.fromArrow(path.join(dir, "valid.arrow"));
      const rebuilt = PreferenceDataset.fromArrow(path.join(out, "valid.arrow"));
      const a = (await shipped.batches({ batchSize: 300, negatives: 3 }).next()).value!;
      const b = (await rebuilt.batches({ batchSize: 300, negatives: 3 }).next()).value!;
      expect(b.text).toEqual(a.text);
      expect(Array.from(b.chosenItem)).toEqual(Array.from(a.chosenItem));
      // Each chosen response: the title's token and EOS.
      for (let i = 0; i < b.size; i++) expect(b.chosen.offsets[i + 1] - b.chosen.offsets[i]).toBe(2);
      expect((await rebuilt.metadata()).tokenizer?.vocabSize).toBe(4096 + 4606);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
