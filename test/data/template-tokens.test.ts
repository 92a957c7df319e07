/** Template tokens: one added token per constant phrase of the prompt templates, beside the item tokens. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fillTemplate, parseTemplates } from "../../src/data/convert";
import { addItemTokens } from "../../src/data/item_tokens";
import { addTemplateTokens, templatePhrases } from "../../src/data/template_tokens";
import { buildLastfmItemTokens } from "../../src/data/lastfm_build";
import { PreferenceDataset } from "../../src/data/dataset";
import { Tokenizer } from "../../src/data/tokenizer";

const dir = path.join(__dirname, "..", "..", "datasets", "lastfm");
const base = fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8");
const shippedTemplates = parseTemplates(fs.readFileSync(path.join(dir, "prompt-music.txt"), "utf8"), "prompt-music.txt");

describe("templatePhrases", () => {
  test("the text around the slots, trailing spaces dropped, each phrase once; bare separators left out", () => {
    const templates = ["Listened to [HistoryHere] lately. Pick from: [CansHere]. Answer: ", "Heard [HistoryHere], [CansHere]. Answer:", "Listened to [HistoryHere]"];
    expect(templatePhrases(templates)).toEqual(["Listened to", " lately. Pick from:", ". Answer:", "Heard"]);
  });

  test("the shipped LastFM templates give three phrases each, two shared endings", () => {
    const phrases = templatePhrases(shippedTemplates);
    expect(shippedTemplates).toHaveLength(10);
    expect(phrases).toContain("This person has listened some musics from these bands");
    expect(phrases).toContain(". Answer:");
    expect(phrases).toContain("? Answer:");
    expect(phrases).toHaveLength(22);
  });
});

describe("addTemplateTokens", () => {
  const items = ["Iggy Pop", "Queen", "Queen Latifah", "Run-D.M.C."];
  const withItems = addItemTokens(base, items);
  const json = addTemplateTokens(withItems, shippedTemplates);
  const tokenizer = Tokenizer.fromString(json);
  const itemsOnly = Tokenizer.fromString(withItems);
  const plain = Tokenizer.fromString(base);

  test("one id per phrase after the item tokens; adding them again changes nothing", () => {
    expect(tokenizer.vocabSize).toBe(itemsOnly.vocabSize + 22);
    expect(tokenizer.eosId).toBe(itemsOnly.eosId);
    expect(addTemplateTokens(json, shippedTemplates)).toBe(json);
  });

  test("a rendered prompt of each shipped template: each phrase one id, each title its item token", async () => {
    for (const template of shippedTemplates) {
      const prompt = fillTemplate(template, ["Iggy Pop", "Queen"], ["Queen Latifah", "Run-D.M.C.", "Iggy Pop"]);
      const ids = Array.from(await tokenizer.encode(prompt));
      // 3 phrases, 2 history titles and a comma, 3 candidates and 2 commas.
      expect(ids).toHaveLength(11);
      expect(ids.filter((id) => id >= itemsOnly.vocabSize)).toHaveLength(3);
      expect(ids.filter((id) => id >= plain.vocabSize)).toHaveLength(8);
      expect(await tokenizer.decode(Int32Array.from(ids))).toBe(prompt);
    }
  });

  test("text outside the templates is tokenized as before; responses stay one item token and EOS", async () => {
    for (const text of [" Queen Latifah", "Answer: Queen", "This person has listened to Queen"]) {
      expect(Array.from(await tokenizer.encode(text))).toEqual(Array.from(await itemsOnly.encode(text)));
    }
  });

  test("a file that is not a tokenizer is refused, naming it", () => {
    expect(() => addTemplateTokens("{", shippedTemplates, "broken.json")).toThrow(/broken\.json: not JSON/);
  });
});

describe("buildLastfmItemTokens with templateTokens", () => {
  test("same rows, texts and responses as with item tokens alone; shorter prompts", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-template-tokens-"));
    try {
      const counts = await buildLastfmItemTokens(dir, out, { templateTokens: true });
      expect(counts).toMatchObject({ train: 2500, valid: 267, vocabSize: 4096 + 4606 + 22 });
      const shipped = PreferenceDataset.fromArrow(path.join(dir, "valid.arrow"));
      const rebuilt = PreferenceDataset.fromArrow(path.join(out, "valid.arrow"));
      const a = (await shipped.batches({ batchSize: 300, negatives: 3 }).next()).value!;
      const b = (await rebuilt.batches({ batchSize: 300, negatives: 3 }).next()).value!;
      expect(b.text).toEqual(a.text);
      for (let i = 0; i < b.size; i++) expect(b.chosen.offsets[i + 1] - b.chosen.offsets[i]).toBe(2);
      const withItems = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-item-tokens-"));
      try {
        await buildLastfmItemTokens(dir, withItems);
        const c = (await PreferenceDataset.fromArrow(path.join(withItems, "valid.arrow")).batches({ batchSize: 300, negatives: 3 }).next()).value!;
        const perPrompt = (x: typeof b) => (x.prompt.offsets[x.size] - x.prompt.offsets[0]) / x.size;
        // About 35 byte-level tokens of template text a prompt become 3.
        expect(perPrompt(c) - perPrompt(b)).toBeGreaterThan(25);
      } finally {
        fs.rmSync(withItems, { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
