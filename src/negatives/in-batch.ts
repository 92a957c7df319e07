/**
 * In-batch negative sharing (the first half of NAPO, arXiv 2508.09653): every row of a batch also takes the
 * other rows' chosen and rejected items as negatives, so a batch of B rows with K negatives each gives up
 * to B*(K+1) - 1 negatives per row at the cost of scoring them, not of sampling or storing more data.
 *
 * shareInBatchNegatives() turns a PreferenceBatch into the packed layout the native step scores: one
 * response table (each row's chosen, then per row its negatives: its own first, then the shared ones),
 * every response tied to its row's prompt, plus chosenIndex [B] and rejectedIndex [B, Kmax] (-1 = padding)
 * into that table. A shared item is scored under the receiving row's prompt, so each distinct
 * (prompt, item) pair is one entry. gatherLogps() (layout.ts) then turns the table's scores into loss inputs.
 *
 * Rules per row b: its negatives never include its positive item (chosenItem[b]) and never the same item
 * twice (items are compared by id; an own negative equal to the positive, or repeated, is dropped too).
 * A rejected entry with item id < 0 or no tokens is padding and is never used.
 */
import type { PackedTokens, PreferenceBatch } from "../data/batch";
import { listAt, packLayout, type NegativeLayout, type Source } from "./layout";
import { mixSeed, SeededRng } from "../rng";

export interface InBatchOptions {
  /** Most shared negatives added to a row (its own negatives do not count). Over it, a seeded uniform
   *  choice among the row's eligible shared items. Default: no cap. */
  cap?: number;
  /** Seed of the choice under `cap` (each row draws from its own stream: mixSeed(seed, b)). Default 0.
   *  The same seed gives the same choice: a trainer varies it per step, e.g. mixSeed(runSeed, step). */
  seed?: number;
  /** Item-id histories of the B rows, needed by `maxHistoryJaccard`. PreferenceBatch carries none: pass
   *  them here (B lists, packed or as arrays) when the data has them. */
  histories?: PackedTokens | ReadonlyArray<ArrayLike<number>>;
  /** Skip the items of a source row whose history's Jaccard similarity with the receiving row's history
   *  is above this (in [0, 1]): a similar user's items are likely false negatives. Needs `histories`. */
  maxHistoryJaccard?: number;
  /** Hook: return false to keep `item`, offered by row `sourceRow`, out of row `row`'s negatives. */
  accept?: (row: number, item: number, sourceRow: number) => boolean;
}

/** The packed layout of a batch with shared negatives (see NegativeLayout), and how many of each row's
 *  negatives are shared. */
export interface InBatchNegatives extends NegativeLayout {
  /** [B] how many of each row's negatives are shared ones (the rest are its own). */
  sharedCount: Int32Array;
}

function checkBatch(batch: PreferenceBatch): void {
  const B = batch.size;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`shareInBatchNegatives: the batch must hold at least one row, got size ${B}`);
  const K = batch.negatives;
  if (!Number.isInteger(K) || K < 0) throw new RangeError(`shareInBatchNegatives: batch.negatives must be an integer >= 0, got ${K}`);
  if (batch.chosenItem.length !== B) throw new RangeError(`shareInBatchNegatives: batch.chosenItem must have length B = ${B}, got ${batch.chosenItem.length}`);
  if (batch.rejectedItems.length !== B * K) {
    throw new RangeError(`shareInBatchNegatives: batch.rejectedItems must have length B*K = ${B * K}, got ${batch.rejectedItems.length}`);
  }
  if (batch.prompt.offsets.length < B + 1 || batch.chosen.offsets.length < B + 1 || batch.rejected.offsets.length < B * K + 1) {
    throw new RangeError("shareInBatchNegatives: the batch's prompt/chosen/rejected offsets are shorter than its B (and B*K) lists");
  }
}

/** Histories as B sets of item ids, or undefined. */
function historySets(histories: InBatchOptions["histories"], rows: number): Array<Set<number>> | undefined {
  if (histories === undefined) return undefined;
  const lists: ArrayLike<number>[] = [];
  if (Array.isArray(histories)) {
    lists.push(...(histories as ReadonlyArray<ArrayLike<number>>));
  } else {
    const packed = histories as PackedTokens;
    if (!packed.values || !packed.offsets) throw new TypeError("options.histories must be packed item ids { values, offsets } or an array of B lists");
    for (let b = 0; b + 1 < packed.offsets.length; b++) lists.push(listAt(packed, b));
  }
  if (lists.length !== rows) throw new RangeError(`options.histories must hold B = ${rows} lists, got ${lists.length}`);
  return lists.map((list) => new Set(Array.from(list)));
}

/** |a ∩ b| / |a ∪ b|; 0 when both are empty (no evidence of similarity). */
export function jaccard(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  if (a.size === 0 && b.size === 0) return 0;
  let shared = 0;
  for (const x of a) if (b.has(x)) shared++;
  return shared / (a.size + b.size - shared);
}

function checkOptions(options: InBatchOptions): void {
  if (options.cap !== undefined && (!Number.isInteger(options.cap) || options.cap < 0)) {
    throw new RangeError(`options.cap must be an integer >= 0, got ${options.cap}`);
  }
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new RangeError(`options.seed must be an integer, got ${options.seed}`);
  if (options.maxHistoryJaccard !== undefined) {
    const limit = options.maxHistoryJaccard;
    if (typeof limit !== "number" || !(limit >= 0 && limit <= 1)) throw new RangeError(`options.maxHistoryJaccard must be a number in [0, 1], got ${limit}`);
    if (options.histories === undefined) {
      throw new TypeError(
        "options.maxHistoryJaccard needs options.histories (the rows' item-id histories): a PreferenceBatch carries none"
      );
    }
  }
  if (options.accept !== undefined && typeof options.accept !== "function") throw new TypeError("options.accept must be a function (row, item, sourceRow) => boolean");
}

/** Each row's own real negatives, in order (padding skipped), as sources. */
function ownNegatives(batch: PreferenceBatch, b: number): Source[] {
  const K = batch.negatives;
  const out: Source[] = [];
  for (let k = 0; k < K; k++) {
    const j = b * K + k;
    const tokens = listAt(batch.rejected, j);
    const item = batch.rejectedItems[j];
    if (item >= 0 && tokens.length > 0) out.push({ item, row: b, tokens });
  }
  return out;
}

/** Builds each row's negatives (own, then shared) and the packed layout to score them. */
export function shareInBatchNegatives(batch: PreferenceBatch, options: InBatchOptions = {}): InBatchNegatives {
  checkBatch(batch);
  checkOptions(options);
  const B = batch.size;
  const histories = historySets(options.histories, B);
  const seed = options.seed ?? 0;

  // Every row's items as offered to other rows: its chosen, then its own real negatives.
  const offered: Source[][] = [];
  for (let a = 0; a < B; a++) {
    offered.push([{ item: batch.chosenItem[a], row: a, tokens: listAt(batch.chosen, a) }, ...ownNegatives(batch, a)]);
  }

  const perRow: Source[][] = [];
  const sharedCount = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const positive = batch.chosenItem[b];
    const taken = new Set<number>([positive]);
    const own: Source[] = [];
    for (const source of ownNegatives(batch, b)) {
      if (taken.has(source.item)) continue;
      taken.add(source.item);
      own.push(source);
    }
    let shared: Source[] = [];
    for (let a = 0; a < B; a++) {
      if (a === b) continue;
      if (histories && jaccard(histories[a], histories[b]) > options.maxHistoryJaccard!) continue;
      for (const source of offered[a]) {
        if (source.item < 0 || source.tokens.length === 0 || taken.has(source.item)) continue;
        if (options.accept && !options.accept(b, source.item, a)) continue;
        taken.add(source.item);
        shared.push(source);
      }
    }
    if (options.cap !== undefined && shared.length > options.cap) {
      // A seeded uniform subset, kept in batch order so the layout reads naturally.
      const picked = new SeededRng(mixSeed(seed, b)).choose(shared.length, options.cap).sort((x, y) => x - y);
      shared = picked.map((i) => shared[i]);
    }
    if (own.length + shared.length === 0) {
      throw new RangeError(
        `shareInBatchNegatives: row ${b} (source row ${batch.rows[b]}) has no negative: no own negative and no other row offers an item it may take`
      );
    }
    sharedCount[b] = shared.length;
    perRow.push([...own, ...shared]);
  }
  return { ...packLayout(batch, perRow), sharedCount };
}
