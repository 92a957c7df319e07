import { existsSync, readdirSync, writeFileSync } from "fs";
import { main } from "../../src/cli/main";
import {
  convertLlaraFile,
  fillTemplate,
  itemVocabulary,
  llaraRecords,
  LlaraRow,
  parseLlaraJson,
  parseTemplates,
} from "../../src/data/convert";
import { PreferenceDataset } from "../../src/data/dataset";
import { Tokenizer } from "../../src/data/tokenizer";
import { collect, TempDir } from "./fixtures";

const rows: LlaraRow[] = [
  { historyList: "Boris::Fever Ray::Fennesz", itemList: ["Iggy Pop", "µ-Ziq", "Kent", "Hope"], trueSelection: "Iggy Pop" },
  { historyList: "Joy Division::Kent", itemList: ["Sebadoh", "Flo Rida", "Boris", "Afghan Whigs"], trueSelection: "Flo Rida" },
  { historyList: "Coldplay::Keane::The Killers", itemList: ["Kent", "Hope", "Sebadoh", "Atmosphere"], trueSelection: "Atmosphere" },
];
const templates = ["A [HistoryHere] B [CansHere]. Answer: ", "History: [HistoryHere]; options: [CansHere]. Answer:"];
const dir = new TempDir();
afterAll(() => dir.remove());

describe("LLaRA JSON conversion", () => {
  it("checks the JSON rows, naming the file, row and field", () => {
    expect(() => parseLlaraJson("{", "x.json")).toThrow(/^x\.json: not valid JSON/);
    expect(() => parseLlaraJson('[{"historyList": 3}]', "x.json")).toThrow('x.json: row 0, field "historyList": expected a string joined by "::"');
    expect(() => parseLlaraJson(JSON.stringify([rows[0], { ...rows[1], trueSelection: "Nobody" }]), "x.json")).toThrow(
      'x.json: row 1: trueSelection "Nobody" is not in itemList',
    );
    expect(() => parseTemplates("no slots here\n", "p.txt")).toThrow("p.txt: line 1 has no [HistoryHere]");
    expect(parseTemplates("\n" + templates.join("\n") + "\n\n", "p.txt")).toEqual(templates.map((t) => t.trim()));
  });

  it("fills the paper's templates with ', '-joined history and candidates", () => {
    expect(fillTemplate(templates[0], ["a", "b"], ["c", "d"])).toBe("A a, b B c, d. Answer:");
  });

  it("builds records deterministically: seeded templates and negatives, ids from the sorted item vocabulary", () => {
    const items = itemVocabulary(rows);
    expect(items).toEqual([...items].sort());
    expect(new Set(items).size).toBe(items.length);
    const a = llaraRecords(rows, { templates, seed: 3, negatives: 2 });
    expect(llaraRecords(rows, { templates, seed: 3, negatives: 2 })).toEqual(a);
    a.forEach((r, i) => {
      expect(r.chosen).toBe(rows[i].trueSelection);
      expect(r.candidateItems.map((id) => items[id])).toEqual(rows[i].itemList);
      expect(items[r.chosenItem]).toBe(r.chosen);
      expect(r.rejected).toHaveLength(2);
      expect(r.rejected).not.toContain(r.chosen);
      for (const t of r.rejected) expect(rows[i].itemList).toContain(t);
      expect(r.rejectedItems.map((id) => items[id])).toEqual(r.rejected);
      expect(r.history).toEqual(rows[i].historyList.split("::"));
      expect(templates.map((t) => fillTemplate(t, r.history, r.candidates))).toContain(r.prompt);
    });
    const seeds = new Set(Array.from({ length: 20 }, (_, s) => llaraRecords(rows, { templates, seed: s }).map((r) => r.prompt).join("|")));
    expect(seeds.size).toBeGreaterThan(1);
    expect(() => llaraRecords(rows, { templates, seed: 0, negatives: 4 })).toThrow("row 0: 4 negatives asked for, only 3 other candidates");
  });

  it("trains a tokenizer and converts with the CLI; responses end with EOS and decode back", async () => {
    const input = dir.file("rows.json");
    writeFileSync(input, JSON.stringify(rows));
    const templateFile = dir.file("prompts.txt");
    writeFileSync(templateFile, templates.join("\n"));
    const tokenizerFile = dir.file("tokenizer.json");
    await main(["tokenizer", "train", "--input", input, "--vocab-size", "320", "--output", tokenizerFile, "--template", templateFile]);
    const tokenizer = Tokenizer.fromFile(tokenizerFile);
    expect(tokenizer.vocabSize).toBe(320);

    const output = dir.file("rows.arrow");
    await main(["convert", "--format", "llara", "--input", input, "--output", output, "--tokenizer", tokenizerFile, "--template", templateFile, "--seed", "5", "--negatives", "2"]);
    expect(readdirSync(dir.path).filter((f) => f.includes(".tmp-"))).toEqual([]);

    const ds = PreferenceDataset.fromArrow(output);
    const md = await ds.metadata();
    expect(md.tokenizer).toEqual(tokenizer.identity);
    expect(md.templates).toEqual(templates.map((t) => t.trim()));
    expect(md.items).toEqual(itemVocabulary(rows));
    expect(md.rows).toBe(3);
    const [batch] = await collect(ds.batches({ batchSize: 3, negatives: 2 }));
    const expected = llaraRecords(rows, { templates: md.templates!, seed: 5, negatives: 2 });
    for (let b = 0; b < 3; b++) {
      const span = (p: { values: Int32Array; offsets: Int32Array }, i: number) => p.values.subarray(p.offsets[i], p.offsets[i + 1]);
      const chosen = span(batch.chosen, b);
      expect(chosen[chosen.length - 1]).toBe(tokenizer.eosId);
      expect(await tokenizer.decode(chosen)).toBe(" " + rows[b].trueSelection);
      expect(await tokenizer.decode(span(batch.prompt, b))).toBe(expected[b].prompt);
      for (let j = batch.candidateOffsets[b]; j < batch.candidateOffsets[b + 1]; j++) {
        const ids = span(batch.candidates, j);
        expect(ids[ids.length - 1]).toBe(tokenizer.eosId);
      }
      expect(await tokenizer.decode(span(batch.rejected, 2 * b))).toBe(" " + expected[b].rejected[0]);
    }
    expect(batch.text.prompt).toEqual(expected.map((r) => r.prompt));
  });

  it("writes only text and item columns without a tokenizer", async () => {
    const input = dir.file("rows2.json");
    writeFileSync(input, JSON.stringify(rows));
    const output = dir.file("text.arrow");
    await convertLlaraFile(input, { output });
    const schema = await PreferenceDataset.fromArrow(output).schema();
    expect(schema.fields.map((f) => f.name)).toEqual([
      "prompt", "chosen", "rejected", "candidates", "history", "chosen_item", "rejected_items", "candidate_items",
    ]);
    expect((await PreferenceDataset.fromArrow(output).metadata()).tokenizer).toBeUndefined();
    expect(existsSync(output + `.tmp-${process.pid}`)).toBe(false);
  });

  it("refuses counts that would loop or lie in the metadata (batchRows 0, negatives -1, fractional seeds)", async () => {
    const input = dir.file("rows3.json");
    writeFileSync(input, JSON.stringify(rows));
    const output = dir.file("bad.arrow");
    await expect(convertLlaraFile(input, { output, batchRows: 0 })).rejects.toThrow("batchRows must be a whole number in [1, 1048576], got 0");
    await expect(convertLlaraFile(input, { output, negatives: -1 })).rejects.toThrow("negatives must be a whole number in [0, 4096], got -1");
    await expect(convertLlaraFile(input, { output, seed: 2.5 })).rejects.toThrow("seed must be a whole number in [0, 4294967295], got 2.5");
    expect(existsSync(output)).toBe(false);
  });
});
