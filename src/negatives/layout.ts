/**
 * The packed layout shared by the negative samplers: prompts once, then one response table (each row's
 * chosen, then row 0's negatives, row 1's, ...), every response scored under its row's prompt, with
 * chosenIndex [B] and rejectedIndex [B, Kmax] (-1 = padding) into the table. It is the native step's batch
 * input plus what the loss needs (mask, item ids); gatherLogps() turns per-response scores into loss inputs.
 */
import type { PackedTokens, PreferenceBatch } from "../data/batch";

/** A batch with its negatives, packed for scoring; the first seven fields are the native step's input. */
export interface NegativeLayout {
  /** [P] prompt tokens of the B rows (P = B), promptOffsets [B + 1] from 0. */
  promptIds: Int32Array;
  promptOffsets: Int32Array;
  /** [R] responses: rows' chosen first (response b is row b's chosen), then row 0's negatives, row 1's, ... */
  responseIds: Int32Array;
  responseOffsets: Int32Array;
  /** [R] the row (prompt) each response is scored under. */
  responsePrompt: Int32Array;
  /** [B] index of each row's chosen response. */
  chosenIndex: Int32Array;
  /** [B * negatives] row-major: index of each negative response, -1 = padding. */
  rejectedIndex: Int32Array;
  /** Kmax: the most negatives any row has. */
  negatives: number;
  /** [B * negatives] 1 = a real negative, 0 = padding (the loss ops' mask). */
  mask: Uint8Array;
  /** [R] the item id of each response. */
  responseItem: Int32Array;
}

/** Tokens of list i of a packed array (a view). */
export function listAt(tokens: PackedTokens, i: number): Int32Array {
  return tokens.values.subarray(tokens.offsets[i], tokens.offsets[i + 1]);
}

/** Where a candidate response's tokens live in the batch. */
export interface Source {
  item: number;
  row: number;
  tokens: Int32Array;
}

/** Packs rows' chosen responses and their negatives (perRow[b], in order) into one scoring layout. */
export function packLayout(batch: PreferenceBatch, perRow: Source[][]): NegativeLayout {
  const B = batch.size;
  const negatives = Math.max(...perRow.map((list) => list.length));
  const R = B + perRow.reduce((sum, list) => sum + list.length, 0);

  const promptBase = batch.prompt.offsets[0];
  const promptIds = batch.prompt.values.subarray(promptBase, batch.prompt.offsets[B]);
  const promptOffsets = new Int32Array(B + 1);
  for (let b = 0; b <= B; b++) promptOffsets[b] = batch.prompt.offsets[b] - promptBase;

  let tokenCount = batch.chosen.offsets[B] - batch.chosen.offsets[0];
  for (const list of perRow) for (const source of list) tokenCount += source.tokens.length;
  const responseIds = new Int32Array(tokenCount);
  const responseOffsets = new Int32Array(R + 1);
  const responsePrompt = new Int32Array(R);
  const responseItem = new Int32Array(R);
  const chosenIndex = new Int32Array(B);
  const rejectedIndex = new Int32Array(B * negatives).fill(-1);
  const mask = new Uint8Array(B * negatives);

  let r = 0;
  let at = 0;
  const append = (tokens: Int32Array, row: number, item: number): number => {
    responseIds.set(tokens, at);
    at += tokens.length;
    responseOffsets[r + 1] = at;
    responsePrompt[r] = row;
    responseItem[r] = item;
    return r++;
  };
  for (let b = 0; b < B; b++) chosenIndex[b] = append(listAt(batch.chosen, b), b, batch.chosenItem[b]);
  perRow.forEach((list, b) => {
    list.forEach((source, k) => {
      rejectedIndex[b * negatives + k] = append(source.tokens, b, source.item);
      mask[b * negatives + k] = 1;
    });
  });
  return { promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt, chosenIndex, rejectedIndex, negatives, mask, responseItem };
}

/** Loss inputs from per-response scores: chosen [B], rejected [B*Kmax] (0 at padding), and the mask. */
export function gatherLogps(layout: Pick<NegativeLayout, "chosenIndex" | "rejectedIndex" | "negatives" | "mask" | "responsePrompt">, logps: ArrayLike<number>): { chosen: Float64Array; rejected: Float64Array; mask: Uint8Array } {
  if (logps.length !== layout.responsePrompt.length) {
    throw new RangeError(`gatherLogps: logps must have one score per response (R = ${layout.responsePrompt.length}), got ${logps.length}`);
  }
  const chosen = Float64Array.from(layout.chosenIndex, (r) => logps[r]);
  const rejected = Float64Array.from(layout.rejectedIndex, (r) => (r < 0 ? 0 : logps[r]));
  return { chosen, rejected, mask: layout.mask };
}
