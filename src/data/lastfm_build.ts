/**
 * Regenerates datasets/lastfm from the paper's raw JSON: seeded train/valid split, a byte-level BPE
 * tokenizer trained on the train split's texts, and the two Arrow files. Deterministic: the same inputs
 * give byte-identical outputs (a test holds the committed files to it).
 */
import { readFileSync } from "fs";
import { join } from "path";
import { itemVocabulary, llaraRecords, parseLlaraJson, parseTemplates, responseText, writeLlaraArrow } from "./convert";
import { mixSeed, SeededRng } from "../rng";
import { addItemTokens } from "./item_tokens";
import { addTemplateTokens } from "./template_tokens";
import { dropListSeparators } from "./list_separators";
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

interface LastfmRows {
  rows: ReturnType<typeof parseLlaraJson>;
  templates: string[];
  items: string[];
  split: { train: number[]; valid: number[] };
}

function readLastfm(sourceDir: string): LastfmRows {
  const rawPath = join(sourceDir, LASTFM.raw);
  const rows = parseLlaraJson(readFileSync(rawPath, "utf8"), rawPath);
  const templatePath = join(sourceDir, LASTFM.templates);
  const templates = parseTemplates(readFileSync(templatePath, "utf8"), templatePath);
  const items = itemVocabulary(rows); // over the whole file, so train and valid share item ids
  return { rows, templates, items, split: splitRows(rows.length, LASTFM.seed, LASTFM.validRows) };
}

/** Writes tokenizer.json and the two Arrow files of `data` tokenized with `tokenizerJson` into `outDir`. */
async function writeLastfm(data: LastfmRows, tokenizerJson: string, outDir: string): Promise<{ train: number; valid: number }> {
  const tokenizerPath = join(outDir, "tokenizer.json");
  writeFileAtomic(tokenizerPath, tokenizerJson);
  const tokenizer = Tokenizer.fromString(tokenizerJson, tokenizerPath);
  const common = { templates: data.templates, seed: LASTFM.seed, items: data.items, tokenizer, negatives: LASTFM.negatives };
  for (const name of ["train", "valid"] as const) {
    const indices = data.split[name];
    await writeLlaraArrow(
      indices.map((i) => data.rows[i]),
      {
        ...common,
        output: join(outDir, `${name}.arrow`),
        source: { dataset: "lastfm", split: name, file: LASTFM.raw, splitSeed: LASTFM.seed, firstRows: indices.slice(0, 3) },
      }
    );
  }
  return { train: data.split.train.length, valid: data.split.valid.length };
}

/** Reads `sourceDir`/{lastfm-val.json, prompt-music.txt} and writes the outputs into `outDir`. */
export async function buildLastfm(sourceDir: string, outDir: string): Promise<{ train: number; valid: number }> {
  const data = readLastfm(sourceDir);
  const trainTexts = llaraRecords(
    data.split.train.map((i) => data.rows[i]),
    { templates: data.templates, seed: LASTFM.seed, items: data.items }
  ).map((r) => r.prompt + responseText(r.chosen));
  return writeLastfm(data, trainByteLevelBpe(trainTexts, { vocabSize: LASTFM.vocabSize }), outDir);
}

/** How buildLastfmItemTokens tokenizes beyond one token per artist name. */
export interface ItemTokenOptions {
  /** One token per constant phrase of the prompt templates (src/data/template_tokens.ts). */
  templateTokens?: boolean;
  /** No token for the ", " between listed titles (src/data/list_separators.ts). */
  dropListSeparators?: boolean;
}

/**
 * The same rows and split tokenized with `sourceDir`/tokenizer.json plus one token per artist name
 * (src/data/item_tokens.ts), and what `options` adds: the data of `sdpo demo`'s from-scratch decoder. A few
 * seconds; deterministic.
 */
export async function buildLastfmItemTokens(sourceDir: string, outDir: string, options: ItemTokenOptions = {}): Promise<{ train: number; valid: number; vocabSize: number }> {
  const data = readLastfm(sourceDir);
  const tokenizerPath = join(sourceDir, "tokenizer.json");
  let json = addItemTokens(readFileSync(tokenizerPath, "utf8"), data.items, tokenizerPath);
  if (options.templateTokens) json = addTemplateTokens(json, data.templates, tokenizerPath);
  if (options.dropListSeparators) json = dropListSeparators(json, tokenizerPath);
  const counts = await writeLastfm(data, json, outDir);
  return { ...counts, vocabSize: Tokenizer.fromString(json).vocabSize };
}
