/**
 * The two batch-level steps of RoDPO sampling around a NegativePool:
 *   packCandidates(batch)                 -> the responses to score (each row's candidates under its prompt),
 *                                            in the order of batch.candidateItems, for pool.refresh();
 *   samplePoolNegatives(batch, pool, k)   -> the packed layout of each row's chosen and k pooled negatives
 *                                            (drawPoolItems, then poolLayout: a data-parallel rank draws for the
 *                                            global batch and lays out its own rows).
 * The trainer's loop is then: every poolRefreshSteps steps, score packCandidates(batch) without gradients and
 * refresh the pool with those scores; every step, train on samplePoolNegatives(batch, pool, K).
 */
import type { PreferenceBatch } from "../data/batch";
import { listAt, packLayout, type NegativeLayout, type Source } from "./layout";
import type { NegativePool } from "./pool";
import type { SeededRng } from "../rng";

/** Responses to score: candidate list c of row b is response c, scored under prompt b. */
export interface CandidateScoringInput {
  promptIds: Int32Array;
  promptOffsets: Int32Array;
  responseIds: Int32Array;
  responseOffsets: Int32Array;
  responsePrompt: Int32Array;
}

function checkCandidates(batch: PreferenceBatch): void {
  const B = batch.size;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`the batch must hold at least one row, got size ${B}`);
  const offsets = batch.candidateOffsets;
  if (offsets.length !== B + 1) throw new RangeError(`batch.candidateOffsets must have length B + 1 = ${B + 1}, got ${offsets.length}`);
  const total = offsets[B];
  if (batch.candidateItems.length !== total) {
    throw new RangeError(`batch.candidateItems must have one item per candidate (${total}), got ${batch.candidateItems.length}`);
  }
  if (batch.candidates.offsets.length < total + 1) throw new RangeError(`batch.candidates holds fewer than the ${total} candidate lists`);
}

/** The batch's candidates as one scoring input; score r belongs to batch.candidateItems[r]. */
export function packCandidates(batch: PreferenceBatch): CandidateScoringInput {
  checkCandidates(batch);
  const B = batch.size;
  const total = batch.candidateOffsets[B];
  const promptBase = batch.prompt.offsets[0];
  const promptOffsets = new Int32Array(B + 1);
  for (let b = 0; b <= B; b++) promptOffsets[b] = batch.prompt.offsets[b] - promptBase;
  const base = batch.candidates.offsets[0];
  const responseOffsets = new Int32Array(total + 1);
  for (let c = 0; c <= total; c++) responseOffsets[c] = batch.candidates.offsets[c] - base;
  const responsePrompt = new Int32Array(total);
  for (let b = 0; b < B; b++) responsePrompt.fill(b, batch.candidateOffsets[b], batch.candidateOffsets[b + 1]);
  return {
    promptIds: batch.prompt.values.subarray(promptBase, batch.prompt.offsets[B]),
    promptOffsets,
    responseIds: batch.candidates.values.subarray(base, batch.candidates.offsets[total]),
    responseOffsets,
    responsePrompt,
  };
}

/**
 * The k negatives each row of `batch` draws from the pool (keyed by batch.rows[b]), in row order; rows the pool
 * has not scored draw from their own candidates. The pool's generator advances the same way whatever is kept
 * of the result, so data-parallel ranks that all draw for the whole global batch stay in step.
 */
export function drawPoolItems(batch: PreferenceBatch, pool: NegativePool, k: number, options: { rng?: SeededRng } = {}): Int32Array[] {
  checkCandidates(batch);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`samplePoolNegatives: k must be an integer >= 1, got ${k}`);
  const drawn: Int32Array[] = [];
  for (let b = 0; b < batch.size; b++) {
    const rowItems = batch.candidateItems.subarray(batch.candidateOffsets[b], batch.candidateOffsets[b + 1]);
    drawn.push(pool.sample(batch.rows[b], k, { fallback: { candidates: rowItems, positive: batch.chosenItem[b] }, rng: options.rng }));
  }
  return drawn;
}

/** The packed layout of each row's chosen response and the negatives `items[b]` (items of its candidate list). */
export function poolLayout(batch: PreferenceBatch, items: readonly ArrayLike<number>[]): NegativeLayout {
  checkCandidates(batch);
  if (items.length !== batch.size) throw new RangeError(`poolLayout: ${items.length} rows of items for a batch of ${batch.size}`);
  const perRow: Source[][] = [];
  for (let b = 0; b < batch.size; b++) {
    const first = batch.candidateOffsets[b];
    const rowItems = batch.candidateItems.subarray(first, batch.candidateOffsets[b + 1]);
    const negatives: Source[] = [];
    for (let n = 0; n < items[b].length; n++) {
      const item = items[b][n];
      const at = rowItems.indexOf(item);
      if (at < 0) {
        throw new RangeError(`samplePoolNegatives: row ${b} (source row ${batch.rows[b]}): pooled item ${item} is not among its candidates`);
      }
      negatives.push({ item, row: b, tokens: listAt(batch.candidates, first + at) });
    }
    if (negatives.length === 0) {
      throw new RangeError(`samplePoolNegatives: row ${b} (source row ${batch.rows[b]}) has no candidate other than its positive`);
    }
    perRow.push(negatives);
  }
  return packLayout(batch, perRow);
}

/**
 * Each row's chosen plus k negatives from the pool (keyed by batch.rows[b]); rows the pool has not scored
 * draw from their own candidates. Negatives take their tokens from the row's candidate lists.
 */
export function samplePoolNegatives(batch: PreferenceBatch, pool: NegativePool, k: number, options: { rng?: SeededRng } = {}): NegativeLayout {
  return poolLayout(batch, drawPoolItems(batch, pool, k, options));
}
