/**
 * The paper's LLaRA / S-DPO JSON (historyList "a::b::c", itemList [20 titles], trueSelection) ->
 * preference records -> Arrow IPC file.
 *
 * Prompts: one template per row, picked with an RNG seeded by (seed, row), with [HistoryHere] and
 * [CansHere] replaced by the history and the candidates joined with ", "; trailing whitespace trimmed.
 * Responses (chosen, rejected, candidates) are tokenized as " " + title (they follow "Answer:") plus EOS.
 * Item ids: the title's index in the code-unit-sorted vocabulary of every title in the input (stored in
 * the schema metadata), or in a vocabulary the caller passes so several files share ids.
 */
import { readRegularFileSync } from "../regular-file";
import { PreferenceRecord, recordsToTable, writeArrowFile } from "./arrow_write";
import { mixSeed, SeededRng } from "../rng";
import { preferenceSchema } from "./schema";
import { Tokenizer } from "./tokenizer";

export interface LlaraRow {
  historyList: string;
  itemList: string[];
  trueSelection: string;
}

/** The paper's first LastFM template, used when no template file is given. */
export const DEFAULT_TEMPLATE =
  "This person has listened some musics from these bands [HistoryHere] recently. Please predict the next band or artist this person will listen to. Choose the answer from the following 20 band names: [CansHere]. Answer:";

/** Parses and checks the paper's JSON; `source` names the file in errors. */
export function parseLlaraJson(text: string, source: string): LlaraRow[] {
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(rows)) throw new Error(`${source}: expected a JSON array of rows`);
  rows.forEach((row, i) => {
    const r = row as Partial<LlaraRow>;
    const where = `${source}: row ${i}`;
    if (typeof r !== "object" || r === null) throw new Error(`${where}: expected an object`);
    if (typeof r.historyList !== "string") throw new Error(`${where}, field "historyList": expected a string joined by "::"`);
    if (!Array.isArray(r.itemList) || !r.itemList.every((x) => typeof x === "string")) {
      throw new Error(`${where}, field "itemList": expected an array of strings`);
    }
    if (typeof r.trueSelection !== "string" || r.trueSelection.length === 0) {
      throw new Error(`${where}, field "trueSelection": expected a non-empty string`);
    }
    if (!r.itemList.includes(r.trueSelection)) {
      throw new Error(`${where}: trueSelection "${r.trueSelection}" is not in itemList`);
    }
  });
  return rows as LlaraRow[];
}

function readText(path: string, what: string): string {
  try {
    return readRegularFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

export function readLlaraJson(path: string): LlaraRow[] {
  return parseLlaraJson(readText(path, "input"), path);
}

/** One template per non-empty line; each must hold [HistoryHere] and [CansHere]. */
export function parseTemplates(text: string, source: string): string[] {
  const templates = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (templates.length === 0) throw new Error(`${source}: no templates (one per line)`);
  templates.forEach((t, i) => {
    for (const slot of ["[HistoryHere]", "[CansHere]"]) {
      if (!t.includes(slot)) throw new Error(`${source}: line ${i + 1} has no ${slot}`);
    }
  });
  return templates;
}

export function readTemplates(path: string): string[] {
  return parseTemplates(readText(path, "templates"), path);
}

export function historyOf(row: LlaraRow): string[] {
  return row.historyList.split("::").filter((x) => x.length > 0);
}

export function fillTemplate(template: string, history: string[], candidates: string[]): string {
  return template.split("[HistoryHere]").join(history.join(", ")).split("[CansHere]").join(candidates.join(", ")).trimEnd();
}

/** Every distinct title (history, candidates, answers), sorted by UTF-16 code units. */
export function itemVocabulary(rows: LlaraRow[]): string[] {
  const titles = new Set<string>();
  for (const row of rows) {
    for (const t of historyOf(row)) titles.add(t);
    for (const t of row.itemList) titles.add(t);
    titles.add(row.trueSelection);
  }
  return [...titles].sort();
}

export interface RecordOptions {
  templates: string[];
  seed: number;
  /** Item vocabulary (sorted); defaults to itemVocabulary(rows). */
  items?: string[];
  /** Fixed rejected responses per row, drawn once from the other candidates (0: leave empty). */
  negatives?: number;
}

/** Rows -> text + item-id records (no tokens yet). Deterministic in (rows, templates, seed, negatives). */
export function llaraRecords(rows: LlaraRow[], options: RecordOptions): PreferenceRecord[] {
  const items = options.items ?? itemVocabulary(rows);
  const ids = new Map(items.map((t, i) => [t, i]));
  const idOf = (title: string, row: number): number => {
    const id = ids.get(title);
    if (id === undefined) throw new Error(`row ${row}: "${title}" is not in the item vocabulary`);
    return id;
  };
  const negatives = options.negatives ?? 0;
  return rows.map((row, i) => {
    const rng = new SeededRng(mixSeed(options.seed, i));
    const template = options.templates[rng.below(options.templates.length)];
    const history = historyOf(row);
    const candidates = row.itemList;
    const others = candidates.filter((c) => c !== row.trueSelection);
    if (others.length < negatives) {
      throw new Error(`row ${i}: ${negatives} negatives asked for, only ${others.length} other candidates`);
    }
    const rejected = rng.shuffle(others.slice()).slice(0, negatives);
    return {
      prompt: fillTemplate(template, history, candidates),
      chosen: row.trueSelection,
      rejected,
      candidates,
      history,
      chosenItem: idOf(row.trueSelection, i),
      rejectedItems: rejected.map((t) => idOf(t, i)),
      candidateItems: candidates.map((t) => idOf(t, i)),
    };
  });
}

/** The text a response is tokenized from: it follows "Answer:", hence the space. */
export function responseText(title: string): string {
  return " " + title;
}

/** Adds token columns in place: prompts through the post-processor, responses + EOS (each title encoded once). */
export async function tokenizeRecords(records: PreferenceRecord[], tokenizer: Tokenizer): Promise<void> {
  const prompts = await tokenizer.encodeBatch(records.map((r) => r.prompt), { addSpecialTokens: true });
  const titles = [...new Set(records.flatMap((r) => [r.chosen, ...r.rejected, ...r.candidates]))];
  const encoded = await tokenizer.encodeBatch(titles.map(responseText), { appendEos: true });
  const byTitle = new Map(titles.map((t, i) => [t, encoded[i]]));
  const ids = (t: string) => byTitle.get(t) as Int32Array;
  records.forEach((r, i) => {
    r.promptIds = prompts[i];
    r.chosenIds = ids(r.chosen);
    r.rejectedIds = r.rejected.map(ids);
    r.candidateIds = r.candidates.map(ids);
  });
}

export interface ConvertOptions {
  output: string;
  templates?: string[];
  seed?: number;
  negatives?: number;
  items?: string[];
  tokenizer?: Tokenizer;
  /** Rows per Arrow record batch. */
  batchRows?: number;
  /** Recorded in the schema metadata ("sdpo.source"). */
  source?: Record<string, unknown>;
}

/** Counts and seeds are whole numbers in range: a batch of 0 rows would never end, -1 negatives lie in the metadata. */
function checkConvertOptions(options: ConvertOptions): void {
  const whole = (name: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= min && value <= max)) {
      throw new RangeError(`${name} must be a whole number in [${min}, ${max}], got ${value}`);
    }
  };
  whole("batchRows", options.batchRows, 1, 1 << 20);
  whole("negatives", options.negatives, 0, 4096);
  whole("seed", options.seed, 0, 4294967295);
}

/** Rows -> Arrow IPC file at options.output (atomic). Returns the row count. */
export async function writeLlaraArrow(rows: LlaraRow[], options: ConvertOptions): Promise<{ rows: number }> {
  checkConvertOptions(options);
  const templates = options.templates ?? [DEFAULT_TEMPLATE];
  const seed = options.seed ?? 0;
  const items = options.items ?? itemVocabulary(rows);
  const records = llaraRecords(rows, { templates, seed, items, negatives: options.negatives });
  if (options.tokenizer) await tokenizeRecords(records, options.tokenizer);
  const schema = preferenceSchema({
    tokenizer: options.tokenizer?.identity,
    templates,
    items,
    rows: records.length,
    source: { format: "llara", seed, negatives: options.negatives ?? 0, ...options.source },
  });
  writeArrowFile(recordsToTable(records, schema, options.batchRows), options.output);
  return { rows: records.length };
}

/** `sdpo convert --format llara`: JSON file -> Arrow file. */
export async function convertLlaraFile(
  input: string,
  options: ConvertOptions & { templateFile?: string; tokenizerFile?: string },
): Promise<{ rows: number }> {
  const rows = readLlaraJson(input);
  const templates = options.templateFile ? readTemplates(options.templateFile) : options.templates;
  const tokenizer = options.tokenizerFile ? Tokenizer.fromFile(options.tokenizerFile) : options.tokenizer;
  return writeLlaraArrow(rows, { ...options, templates, tokenizer });
}
