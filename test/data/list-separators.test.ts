/** Dropped list separators: no token for the commas between item tokens; commas inside added tokens stay. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fillTemplate, parseTemplates } from "../../src/data/convert";
import { addItemTokens } from "../../src/data/item_tokens";
import { dropListSeparators } from "../../src/data/list_separators";
import { addTemplateTokens } from "../../src/data/template_tokens";
import { buildLastfmItemTokens } from "../../src/data/lastfm_build";
import { PreferenceDataset } from "../../src/data/dataset";
import { Tokenizer } from "../../src/data/tokenizer";

const dir = path.join(__dirname, "..", "..", "datasets", "lastfm");
const base = fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8");
const templates = parseTemplates(fs.readFileSync(path.join(dir, "prompt-music.txt"), "utf8"), "prompt-music.txt");

describe("dropListSeparators", () => {
  const titles = ["Iggy Pop", "Queen", "Crosby, Stills & Nash"];
  const withPhrases = addTemplateTokens(addItemTokens(base, titles), templates);
  const tokenizer = Tokenizer.fromString(dropListSeparators(withPhrases));
  const kept = Tokenizer.fromString(withPhrases);

  test("a prompt is its phrases and its titles; a comma inside a title or a phrase stays", async () => {
    const prompt = fillTemplate(templates[2], ["Queen", "Iggy Pop"], ["Crosby, Stills & Nash", "Queen", "Iggy Pop"]);
    const ids = Array.from(await tokenizer.encode(prompt));
    const one = async (text: string) => Array.from(await kept.encode(text));
    const expected = [
      ...(await one("After listening to music from")),
      ...(await one(" Queen")),
      ...(await one(" Iggy Pop")),
      ...(await one(", which band or artist do you think this person will discover next? Select the answer from the following options:")),
      ...(await one(" Crosby, Stills & Nash")),
      ...(await one(" Queen")),
      ...(await one(" Iggy Pop")),
      ...(await one(". Answer:")),
    ];
    expect(expected).toHaveLength(8);
    expect(ids).toEqual(expected);
    expect(await tokenizer.decode(Int32Array.from(ids))).toContain("Crosby, Stills & Nash");
    // With the separators kept, the same prompt has three commas more (one between the 2 history titles, two
    // between the 3 candidates).
    expect((await kept.encode(prompt)).length).toBe(ids.length + 3);
  });

  test("responses are unchanged: the title's one token", async () => {
    for (const title of titles) expect(Array.from(await tokenizer.encode(" " + title))).toEqual(Array.from(await kept.encode(" " + title)));
  });

  test("a normalizer already there runs first", () => {
    const json = JSON.parse(base);
    json.normalizer = { type: "Lowercase" };
    const both = JSON.parse(dropListSeparators(JSON.stringify(json)));
    expect(both.normalizer).toEqual({ type: "Sequence", normalizers: [{ type: "Lowercase" }, { type: "Replace", pattern: { String: "," }, content: "" }] });
    expect(() => Tokenizer.fromString(JSON.stringify(both))).not.toThrow();
  });

  test("a file that is not JSON is refused, naming it", () => {
    expect(() => dropListSeparators("{", "broken.json")).toThrow(/broken\.json: not JSON/);
  });
});

describe("buildLastfmItemTokens with template tokens and no list separators", () => {
  test("every valid prompt is 3 phrases plus its history and its 20 candidates, one token each", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-no-separators-"));
    try {
      await buildLastfmItemTokens(dir, out, { templateTokens: true, dropListSeparators: true });
      const rows = (await PreferenceDataset.fromArrow(path.join(out, "valid.arrow")).batches({ batchSize: 300, negatives: 3 }).next()).value!;
      const raw = JSON.parse(fs.readFileSync(path.join(dir, "lastfm-val.json"), "utf8")) as { historyList: string; itemList: string[] }[];
      const historyLength = new Map(raw.map((r) => [r.itemList.join(", "), r.historyList.split("::").filter((x) => x.length > 0).length]));
      for (let i = 0; i < rows.size; i++) {
        const history = historyLength.get(rows.text!.candidates[i].join(", "));
        expect(history).toBeGreaterThan(0);
        expect(rows.prompt.offsets[i + 1] - rows.prompt.offsets[i]).toBe(3 + history! + 20);
        expect(rows.chosen.offsets[i + 1] - rows.chosen.offsets[i]).toBe(2);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
