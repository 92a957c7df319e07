/**
 * Training rows that teach the task rather than the rows: each epoch, every example gets a freshly drawn
 * candidate list (the target at a random position, the others drawn uniformly from the item vocabulary, as the
 * LLaRA/S-DPO files draw theirs) and its prompt re-rendered from the history and those candidates with one of the
 * file's templates, then re-tokenized. Optionally every history prefix is an example too (items 1..i predict
 * item i+1), so each training sequence teaches every next-item step, not only its last. Optionally a share of
 * copy rows (a random history, a random target) that only the candidate list predicts. Optionally a share of
 * skip rows each epoch: an example drops the last item of its history and keeps its target, and the dropped item
 * (the one that history predicts best) is kept out of the list, so the list has to win over a strong guess.
 *
 * A model trained on the file's fixed rows can memorise "this prompt -> this title"; with a new list and a new
 * position every epoch, the only way to lower the loss is to copy a title out of the list and rank by history.
 *
 * Deterministic for (seed, epoch, example): draws never depend on batching, shuffling or skipped batches, so a
 * resumed run sees the same rows. The file's rows are held in memory as text + item ids (LastFM: ~1 MB).
 */
import type { PreferenceBatch } from "./batch";
import { fillTemplate, responseText } from "./convert";
import { DataError } from "./errors";
import { PreferenceDataset } from "./dataset";
import { ListGather } from "./pack";
import { mixSeed, SeededRng } from "../rng";
import type { Tokenizer } from "./tokenizer";

export interface ResampleOptions {
  /** Add one example per history prefix of at least `minHistory` items (default false). */
  subsequences?: boolean;
  /** Shortest history of a sub-sequence example (default: the shortest history in the file, at least 1). */
  minHistory?: number;
  /** Candidates per example (default: the file's, 20 for LastFM). */
  numCandidates?: number;
  /**
   * Share of copy rows among the examples (default 0; at most 0.9): extra examples whose history is random
   * items and whose target is a random item. Only the candidate list predicts their target, so they reward a
   * decoder for reading the list (copying a listed title) rather than guessing the next item from history alone.
   */
  copyRows?: number;
  /** Seed of the copy rows' histories and targets (default 0); fixed for the dataset, like the file's rows. */
  copyRowsSeed?: number;
  /**
   * Share of skip rows (default 0; at most 0.9): each epoch, this share of the examples whose history has at
   * least two items drops the history's last item and keeps its target, and that item is never a candidate. The
   * shortened history predicts the dropped item best, and it is not listed: the decoder learns to answer from
   * the list even against its own strongest next-item guess, which on unseen rows is often an unlisted title.
   * Drawn per (seed, epoch, example), like the candidate lists.
   */
  skipRows?: number;
}

/** What the trainers ask of a batch source (src/trainers/source.ts's BatchRequest). */
export interface ResampleRequest {
  batchSize: number;
  negatives: number;
  shuffle: boolean;
  seed: number;
  epoch: number;
  skipBatches?: number;
  negativeSampling?: "fixed" | "random";
  dropLast?: boolean;
}

/** One training example: a history (item ids) and the item that followed it. */
interface Example {
  /** Row of the file it comes from (error messages, `batch.rows`). */
  row: number;
  history: Int32Array;
  target: number;
  /** (row, history length) as one number, row * 4096 + length: seeds the example's draws. */
  key: number;
  /** A row of the file or a sub-sequence of one (not a copy row), with at least two history items. */
  skippable: boolean;
}

/** An example as drawn in one epoch: as stored, or as a skip row (`absent` = the dropped item, else -1). */
interface EpochExample {
  history: Int32Array;
  target: number;
  absent: number;
}

export class ResampledDataset {
  /** Candidate lists change every epoch: the trainers refuse per-row negative pools (RoDPO) on such data. */
  readonly redrawsCandidates = true as const;

  private constructor(
    readonly name: string,
    private readonly items: string[],
    private readonly templates: string[],
    private readonly examples: Example[],
    private readonly titleTokens: Int32Array[],
    private readonly tokenizer: Tokenizer,
    readonly numCandidates: number,
    private readonly skipRows: number,
  ) {}

  /**
   * Reads a preference file's histories and targets (its text columns and `sdpo.items` / `sdpo.templates`
   * metadata) and the tokenizer its token columns were made with.
   */
  static async open(source: string | PreferenceDataset, tokenizer: Tokenizer, options: ResampleOptions = {}): Promise<ResampledDataset> {
    const dataset = typeof source === "string" ? PreferenceDataset.fromArrow(source) : source;
    const name = dataset.name;
    const metadata = await dataset.metadata();
    const items = metadata.items;
    const templates = metadata.templates;
    if (!items || items.length < 2) throw new DataError(name, 'needs an item vocabulary (schema metadata "sdpo.items") to re-draw candidates');
    if (!templates || templates.length === 0) throw new DataError(name, 'needs prompt templates (schema metadata "sdpo.templates") to re-render prompts');
    for (const [i, t] of templates.entries()) {
      if (!t.includes("[HistoryHere]") || !t.includes("[CansHere]")) {
        throw new DataError(name, `template ${i} lacks [HistoryHere] or [CansHere]: cannot re-render prompts`);
      }
    }
    const identity = metadata.tokenizer;
    if (identity && identity.vocabSize !== tokenizer.vocabSize) {
      throw new DataError(name, `was tokenized with a ${identity.vocabSize}-id tokenizer, the one given has ${tokenizer.vocabSize}`);
    }
    const idOf = new Map(items.map((t, i) => [t, i]));

    const rows: { history: Int32Array; target: number; candidates: number }[] = [];
    for await (const batch of dataset.batches({ batchSize: 256, negatives: 0 })) {
      for (let b = 0; b < batch.size; b++) {
        const row = batch.rows[b];
        const titles = batch.text.history?.[b] ?? [];
        const history = Int32Array.from(titles, (title) => {
          const id = idOf.get(title);
          if (id === undefined) throw new DataError(name, `history title "${title}" is not in the item vocabulary`, row, "history");
          return id;
        });
        rows.push({ history, target: batch.chosenItem[b], candidates: batch.candidateOffsets[b + 1] - batch.candidateOffsets[b] });
      }
    }
    if (rows.length === 0) throw new DataError(name, "has no rows");
    const longest = rows.findIndex((r) => r.history.length >= 4096);
    if (longest >= 0) throw new DataError(name, `a history of ${rows[longest].history.length} items: at most 4095 are supported`, longest, "history");
    const numCandidates = options.numCandidates ?? rows[0].candidates;
    if (!Number.isInteger(numCandidates) || numCandidates < 2 || numCandidates > items.length) {
      throw new RangeError(`numCandidates must be an integer in [2, ${items.length}] (the item vocabulary), got ${numCandidates}`);
    }
    const shortest = rows.reduce((m, r) => Math.min(m, r.history.length), Infinity);
    const minHistory = options.minHistory ?? Math.max(1, shortest);
    if (!Number.isInteger(minHistory) || minHistory < 1) throw new RangeError(`minHistory must be a positive integer, got ${minHistory}`);

    const examples: Example[] = [];
    rows.forEach((r, row) => {
      // Key layout: (row, history length); the full row is its own longest prefix.
      examples.push({ row, history: r.history, target: r.target, key: row * 4096 + r.history.length, skippable: r.history.length >= 2 });
      if (!options.subsequences) return;
      for (let n = minHistory; n < r.history.length; n++) {
        examples.push({ row, history: r.history.subarray(0, n), target: r.history[n], key: row * 4096 + n, skippable: n >= 2 });
      }
    });

    const copyRows = options.copyRows ?? 0;
    if (!(Number.isFinite(copyRows) && copyRows >= 0 && copyRows <= 0.9)) throw new RangeError(`copyRows must be a share in [0, 0.9], got ${copyRows}`);
    const copySeed = options.copyRowsSeed ?? 0;
    if (!Number.isSafeInteger(copySeed)) throw new RangeError(`copyRowsSeed must be an integer, got ${copySeed}`);
    if (copyRows > 0) {
      // Histories as long as the file's (3-10 items for LastFM), drawn without repeats; the target is not among them.
      const longestHistory = rows.reduce((m, r) => Math.max(m, r.history.length), 0);
      const maxHistory = Math.min(Math.max(longestHistory, minHistory), items.length - numCandidates);
      if (maxHistory < minHistory) throw new DataError(name, `has too few items (${items.length}) for copy rows`);
      const count = Math.round((examples.length * copyRows) / (1 - copyRows));
      for (let i = 0; i < count; i++) {
        const row = rows.length + i; // beyond the file's rows: names the copy row in batch.rows and seeds its draws
        const rng = new SeededRng(mixSeed(copySeed, row, 0x636f7079));
        const length = minHistory + rng.below(maxHistory - minHistory + 1);
        const drawn = new Set<number>();
        while (drawn.size < length + 1) drawn.add(rng.below(items.length));
        const [target, ...history] = drawn;
        examples.push({ row, history: Int32Array.from(history), target, key: row * 4096 + length, skippable: false });
      }
    }

    const skipRows = options.skipRows ?? 0;
    if (!(Number.isFinite(skipRows) && skipRows >= 0 && skipRows <= 0.9)) throw new RangeError(`skipRows must be a share in [0, 0.9], got ${skipRows}`);

    const titleTokens = await tokenizer.encodeBatch(items.map(responseText), { appendEos: true });
    return new ResampledDataset(name, items, templates, examples, titleTokens, tokenizer, numCandidates, skipRows);
  }

  /** Examples per epoch: the file's rows, plus the sub-sequence examples and copy rows when asked for. */
  async countRows(): Promise<number> {
    return this.examples.length;
  }

  /** An example as drawn in an epoch: a skip row (its last history item dropped) or as stored. Seeded by (seed, epoch, key). */
  private epochExample(exampleIndex: number, seed: number, epoch: number): EpochExample {
    const ex = this.examples[exampleIndex];
    if (this.skipRows > 0 && ex.skippable && new SeededRng(mixSeed(seed, epoch, ex.key, 0x736b6970)).next() < this.skipRows) {
      const last = ex.history.length - 1;
      return { history: ex.history.subarray(0, last), target: ex.target, absent: ex.history[last] };
    }
    return { history: ex.history, target: ex.target, absent: -1 };
  }

  /**
   * The candidates of an example in an epoch: the target and `numCandidates - 1` distinct other items that are
   * neither the target nor in the history (nor a skip row's dropped item), in random order; its template index.
   * Seeded by (seed, epoch, key).
   */
  drawCandidates(exampleIndex: number, seed: number, epoch: number): { items: Int32Array; targetIndex: number; template: number } {
    const ex = this.examples[exampleIndex];
    const drawn = this.epochExample(exampleIndex, seed, epoch);
    const rng = new SeededRng(mixSeed(seed, epoch, ex.key, 0x63616e64));
    const excluded = new Set<number>(drawn.history);
    excluded.add(drawn.target);
    if (drawn.absent >= 0) excluded.add(drawn.absent);
    const n = this.numCandidates;
    if (this.items.length - excluded.size < n - 1) {
      throw new DataError(this.name, `only ${this.items.length - excluded.size} items are left to draw ${n - 1} other candidates from`, ex.row);
    }
    const items = new Int32Array(n);
    const targetIndex = rng.below(n);
    const taken = new Set<number>();
    for (let j = 0; j < n; j++) {
      if (j === targetIndex) {
        items[j] = ex.target;
        continue;
      }
      let id: number;
      do id = rng.below(this.items.length);
      while (excluded.has(id) || taken.has(id));
      taken.add(id);
      items[j] = id;
    }
    return { items, targetIndex, template: rng.below(this.templates.length) };
  }

  async *batches(request: ResampleRequest): AsyncGenerator<PreferenceBatch> {
    const B = request.batchSize;
    const K = request.negatives;
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`batchSize must be a positive integer, got ${B}`);
    if (!Number.isInteger(K) || K < 0 || K > this.numCandidates - 1) {
      throw new RangeError(`negatives must be an integer in [0, ${this.numCandidates - 1}] (the other candidates), got ${K}`);
    }
    const order = Array.from({ length: this.examples.length }, (_, i) => i);
    if (request.shuffle) new SeededRng(mixSeed(request.seed, request.epoch, 0x5f3759df)).shuffle(order);
    const skip = request.skipBatches ?? 0;
    for (let start = skip * B, index = skip; start < order.length; start += B, index++) {
      const picked = order.slice(start, start + B);
      if (picked.length < B && request.dropLast) break;
      yield await this.build(picked, K, request.seed, request.epoch);
    }
  }

  private async build(picked: number[], K: number, seed: number, epoch: number): Promise<PreferenceBatch> {
    const B = picked.length;
    const n = this.numCandidates;
    const rows = new Int32Array(B);
    const chosenItem = new Int32Array(B);
    const rejectedItems = new Int32Array(B * K);
    const candidateItems = new Int32Array(B * n);
    const candidateOffsets = Int32Array.from({ length: B + 1 }, (_, b) => b * n);
    const chosen = new ListGather();
    const rejected = new ListGather();
    const candidates = new ListGather();
    const historyFirst: number[] = [];
    const historyOffsets = new Int32Array(B + 1);
    const promptTexts: string[] = [];
    const candidateTexts: string[][] = [];
    const chosenTexts: string[] = [];
    const add = (gather: ListGather, item: number) => gather.add(this.titleTokens[item], 0, this.titleTokens[item].length);
    picked.forEach((e, b) => {
      const ex = this.epochExample(e, seed, epoch);
      const draw = this.drawCandidates(e, seed, epoch);
      rows[b] = this.examples[e].row;
      chosenItem[b] = ex.target;
      add(chosen, ex.target);
      candidateItems.set(draw.items, b * n);
      for (const item of draw.items) add(candidates, item);
      // Negatives: the first K other candidates of the (already random) list.
      let k = 0;
      for (let j = 0; j < n && k < K; j++) {
        if (j === draw.targetIndex) continue;
        rejectedItems[b * K + k++] = draw.items[j];
        add(rejected, draw.items[j]);
      }
      // History items' first tokens, less those a candidate also starts with (with BPE titles, "The ...").
      const listedFirst = new Set<number>();
      for (const item of draw.items) listedFirst.add(this.titleTokens[item][0]);
      const seen = new Set<number>();
      for (const item of ex.history) {
        const token = this.titleTokens[item][0];
        if (listedFirst.has(token) || seen.has(token)) continue;
        seen.add(token);
        historyFirst.push(token);
      }
      historyOffsets[b + 1] = historyFirst.length;
      const titles = Array.from(draw.items, (i) => this.items[i]);
      const history = Array.from(ex.history, (i) => this.items[i]);
      promptTexts.push(fillTemplate(this.templates[draw.template], history, titles));
      candidateTexts.push(titles);
      chosenTexts.push(this.items[ex.target]);
    });
    const promptIds = await this.tokenizer.encodeBatch(promptTexts, { addSpecialTokens: true });
    const prompt = new ListGather();
    for (const ids of promptIds) prompt.add(ids, 0, ids.length);
    return {
      size: B,
      rows,
      prompt: prompt.pack(),
      chosen: chosen.pack(),
      negatives: K,
      rejected: rejected.pack(),
      chosenItem,
      rejectedItems,
      candidates: candidates.pack(),
      candidateOffsets,
      candidateItems,
      historyFirstTokens: { values: Int32Array.from(historyFirst), offsets: historyOffsets },
      text: { prompt: promptTexts, chosen: chosenTexts, candidates: candidateTexts },
    };
  }
}
