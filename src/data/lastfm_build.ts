/**
 * Regenerates datasets/lastfm from the paper's raw JSON: seeded train/valid split, a byte-level BPE
 * tokenizer trained on the train split's texts, and the two Arrow files. Deterministic: the same inputs
 * give byte-identical outputs (a test holds the committed files to it).
 */
import { readFileSync } from "fs";
import { join } from "path";
import { itemVocabulary, llaraRecords, parseLlaraJson, parseTemplates, responseText, writeLlaraArrow } from "./convert";
import { mixSeed, SeededRng } from "../rng";
import { Tokenizer } from "./tokenizer";
import { trainByteLevelBpe, writeFileAtomic } from "./train_tokenizer";

export const LASTFM = {
  raw: "lastfm-val.json",
  templates: "prompt-music.txt",
  outputs: ["tokenizer.json", "train.arrow", "valid.arrow"],
  seed: 2024,
  validRows: 267,
  /** 4096 ids: 4606 artists over ~2500 prompts would let a larger BPE learn most names as one token
   *  (memorising rather than composing them), and a small vocabulary keeps the embedding and LM head
   *  of a from-scratch model cheap. Names then take ~3-6 tokens. */
  vocabSize: 4096,
  /** Fixed rejected responses per row (the paper fixes its negatives once); random sampling can draw more. */
  negatives: 3,
} as const;

/** Train/valid row indices: a seeded permutation, the last `validRows` for validation, each part in file order. */
export function splitRows(count: number, seed: number, validRows: number): { train: number[]; valid: number[] } {
  const order = new SeededRng(mixSeed(seed, 0x73706c74)).shuffle(Array.from({ length: count }, (_, i) => i));
  const valid = order.slice(count - validRows).sort((a, b) => a - b);
  const train = order.slice(0, count - validRows).sort((a, b) => a - b);
  return { train, valid };
}

/** Reads `sourceDir`/{lastfm-val.json, prompt-music.txt} and writes the outputs into `outDir`. */
export async function buildLastfm(sourceDir: string, outDir: string): Promise<{ train: number; valid: number }> {
  const rawPath = join(sourceDir, LASTFM.raw);
  const rows = parseLlaraJson(readFileSync(rawPath, "utf8"), rawPath);
  const templatePath = join(sourceDir, LASTFM.templates);
  const templates = parseTemplates(readFileSync(templatePath, "utf8"), templatePath);
  const items = itemVocabulary(rows); // over the whole file, so train and valid share item ids
  const split = splitRows(rows.length, LASTFM.seed, LASTFM.validRows);
  const trainRows = split.train.map((i) => rows[i]);
  const validRows = split.valid.map((i) => rows[i]);

  const trainTexts = llaraRecords(trainRows, { templates, seed: LASTFM.seed, items }).map(
    (r) => r.prompt + responseText(r.chosen),
  );
  const tokenizerJson = trainByteLevelBpe(trainTexts, { vocabSize: LASTFM.vocabSize });
  const tokenizerPath = join(outDir, "tokenizer.json");
  writeFileAtomic(tokenizerPath, tokenizerJson);
  const tokenizer = Tokenizer.fromString(tokenizerJson, tokenizerPath);

  const common = { templates, seed: LASTFM.seed, items, tokenizer, negatives: LASTFM.negatives };
  for (const [name, part, indices] of [
    ["train", trainRows, split.train],
    ["valid", validRows, split.valid],
  ] as const) {
    await writeLlaraArrow(part, {
      ...common,
      output: join(outDir, `${name}.arrow`),
      source: { dataset: "lastfm", split: name, file: LASTFM.raw, splitSeed: LASTFM.seed, firstRows: indices.slice(0, 3) },
    });
  }
  return { train: trainRows.length, valid: validRows.length };
}
