/** In-batch negative sharing: no own positive, no repeats, cap, determinism, layout, filters. */
import { jaccard, shareInBatchNegatives, type InBatchNegatives } from "../../src/negatives/in-batch";
import { gatherLogps } from "../../src/negatives/layout";
import { expectThrows } from "../helpers";
import { itemTokens, makeBatch } from "./batch-fixture";

/** Row b's negatives as item ids (padding left out). */
function negativeItems(layout: InBatchNegatives, b: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < layout.negatives; k++) {
    const r = layout.rejectedIndex[b * layout.negatives + k];
    if (r >= 0) out.push(layout.responseItem[r]);
  }
  return out;
}

/** Tokens of response r. */
const responseTokens = (layout: InBatchNegatives, r: number) => Array.from(layout.responseIds.subarray(layout.responseOffsets[r], layout.responseOffsets[r + 1]));

// Row 1 shares item 3 with row 0's negatives; row 2's positive 5 is row 0's negative; row 3 repeats an own negative and lists its positive.
const chosen = [1, 2, 5, 9];
const rejected = [
  [3, 5],
  [3, 4],
  [6, -1],
  [7, 9],
];
const batch = () => makeBatch(chosen, rejected);

function checkInvariants(layout: InBatchNegatives): void {
  const B = chosen.length;
  for (let b = 0; b < B; b++) {
    const items = negativeItems(layout, b);
    expect(items).not.toContain(chosen[b]);
    expect(new Set(items).size).toBe(items.length);
    expect(items.length).toBeGreaterThan(0);
    for (let k = 0; k < layout.negatives; k++) {
      const i = b * layout.negatives + k;
      expect(layout.mask[i]).toBe(layout.rejectedIndex[i] >= 0 ? 1 : 0);
    }
  }
  // Every response is scored under its row's prompt and carries its item's tokens.
  for (let r = 0; r < layout.responsePrompt.length; r++) expect(responseTokens(layout, r)).toEqual(itemTokens(layout.responseItem[r]));
  for (let b = 0; b < B; b++) {
    expect(layout.responsePrompt[layout.chosenIndex[b]]).toBe(b);
    expect(layout.responseItem[layout.chosenIndex[b]]).toBe(chosen[b]);
    for (let k = 0; k < layout.negatives; k++) {
      const r = layout.rejectedIndex[b * layout.negatives + k];
      if (r >= 0) expect(layout.responsePrompt[r]).toBe(b);
    }
  }
  // Each distinct (prompt, item) pair is one response.
  const pairs = Array.from(layout.responsePrompt, (p, r) => `${p}:${layout.responseItem[r]}`);
  expect(new Set(pairs).size).toBe(pairs.length);
}

describe("shareInBatchNegatives", () => {
  test("each row gets its own negatives first, then every other row's items, never its positive, no repeats", () => {
    const layout = shareInBatchNegatives(batch());
    checkInvariants(layout);
    expect(negativeItems(layout, 0)).toEqual([3, 5, 2, 4, 6, 9, 7]);
    expect(negativeItems(layout, 1)).toEqual([3, 4, 1, 5, 6, 9, 7]);
    expect(negativeItems(layout, 2)).toEqual([6, 1, 3, 2, 4, 9, 7]);
    expect(negativeItems(layout, 3)).toEqual([7, 1, 3, 5, 2, 4, 6]); // own 9 (its positive) dropped
    expect(Array.from(layout.sharedCount)).toEqual([5, 5, 6, 6]);
    expect(layout.negatives).toBe(7);
  });

  test("the prompt table is the batch's prompts, rebased; the first seven fields are the native step's input", () => {
    const layout = shareInBatchNegatives(batch());
    expect(Array.from(layout.promptOffsets)).toEqual([0, 3, 6, 9, 12]);
    expect(Array.from(layout.promptIds)).toEqual([7, 7, 0, 7, 7, 1, 7, 7, 2, 7, 7, 3]);
    expect(Array.from(layout.chosenIndex)).toEqual([0, 1, 2, 3]);
    expect(layout.responseOffsets[0]).toBe(0);
    expect(layout.responseOffsets[layout.responsePrompt.length]).toBe(layout.responseIds.length);
    expect(layout.rejectedIndex).toHaveLength(4 * layout.negatives);
  });

  test("cap: at most cap shared negatives per row, a subset of the uncapped ones, deterministic per seed", () => {
    const full = shareInBatchNegatives(batch());
    for (const cap of [0, 1, 3]) {
      const a = shareInBatchNegatives(batch(), { cap, seed: 11 });
      const b = shareInBatchNegatives(batch(), { cap, seed: 11 });
      checkInvariants(a);
      expect(a).toEqual(b);
      for (let row = 0; row < 4; row++) {
        expect(a.sharedCount[row]).toBe(Math.min(cap, full.sharedCount[row]));
        const items = negativeItems(a, row);
        const own = items.length - a.sharedCount[row];
        expect(items.slice(0, own)).toEqual(negativeItems(full, row).slice(0, own));
        for (const item of items) expect(negativeItems(full, row)).toContain(item);
      }
    }
    // Different seeds choose differently somewhere (6 rows-worth of 5-choose-1 draws).
    const picks = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => JSON.stringify(negativeItems(shareInBatchNegatives(batch(), { cap: 1, seed }), 0))));
    expect(picks.size).toBeGreaterThan(1);
  });

  test("cap choice is uniform-ish over the eligible shared items", () => {
    const counts = new Map<number, number>();
    for (let seed = 0; seed < 2000; seed++) {
      const items = negativeItems(shareInBatchNegatives(batch(), { cap: 1, seed }), 0);
      const shared = items[items.length - 1];
      counts.set(shared, (counts.get(shared) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([2, 4, 6, 7, 9]);
    for (const count of counts.values()) expect(Math.abs(count - 400)).toBeLessThan(80);
  });

  test("accept hook and history Jaccard filter", () => {
    const noNine = shareInBatchNegatives(batch(), { accept: (_row, item) => item !== 9 });
    for (let b = 0; b < 3; b++) expect(negativeItems(noNine, b)).not.toContain(9);
    const seen: Array<[number, number, number]> = [];
    shareInBatchNegatives(batch(), { accept: (row, item, source) => (seen.push([row, item, source]), true) });
    expect(seen).toContainEqual([0, 2, 1]);
    expect(seen.every(([row, , source]) => row !== source)).toBe(true);

    // Rows 0 and 1 share most of their history: neither takes the other's items.
    const histories = [[10, 11, 12], [10, 11, 12, 13], [20], [30, 31]];
    const filtered = shareInBatchNegatives(batch(), { histories, maxHistoryJaccard: 0.5 });
    checkInvariants(filtered);
    expect(negativeItems(filtered, 0)).toEqual([3, 5, 6, 9, 7]); // nothing new from row 1 (2, 4)
    expect(negativeItems(filtered, 1)).toEqual([3, 4, 5, 6, 9, 7]); // row 0's 1 left out; 5 comes from row 2
    expect(negativeItems(filtered, 2)).toEqual(negativeItems(shareInBatchNegatives(batch()), 2));
    // Packed histories work the same.
    const packed = { values: Int32Array.from(histories.flat()), offsets: Int32Array.from([0, 3, 7, 8, 10]) };
    expect(shareInBatchNegatives(batch(), { histories: packed, maxHistoryJaccard: 0.5 })).toEqual(filtered);
    expect(jaccard(new Set([1, 2]), new Set([2, 3]))).toBeCloseTo(1 / 3, 15);
    expect(jaccard(new Set(), new Set())).toBe(0);
  });

  test("padding negatives (item -1 or no tokens) are never used", () => {
    const layout = shareInBatchNegatives(makeBatch([1, 2], [[-1, 3], [-1, -1]]));
    expect(negativeItems(layout, 0)).toEqual([3, 2]);
    expect(negativeItems(layout, 1)).toEqual([1, 3]);
    expect(layout.responseItem).not.toContain(-1);
  });

  test("gatherLogps turns per-response scores into loss inputs", () => {
    const layout = shareInBatchNegatives(makeBatch([1, 2], [[3], [4]]), {});
    const logps = Float64Array.from(layout.responseItem, (item, r) => -item - 0.1 * layout.responsePrompt[r]);
    const { chosen: c, rejected: rj, mask } = gatherLogps(layout, logps);
    expect(Array.from(c)).toEqual([-1, -2.1]);
    expect(Array.from(rj)).toEqual([-3, -2, -4, -4.1, -1.1, -3.1]);
    expect(mask).toBe(layout.mask);
    expectThrows(() => gatherLogps(layout, new Float64Array(2)), "RangeError", /one score per response \(R = 8\), got 2/);
    // Rows of different lengths: padding reads 0 and is masked out.
    const capped = shareInBatchNegatives(batch(), { cap: 1, seed: 3 });
    const padded = gatherLogps(capped, Float64Array.from(capped.responseItem, (item) => -item));
    expect(capped.negatives).toBe(3);
    expect(Array.from(capped.mask)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0]);
    expect([padded.rejected[8], padded.rejected[11]]).toEqual([0, 0]);
  });

  test("bad options and rows with nothing to take", () => {
    expectThrows(() => shareInBatchNegatives(batch(), { cap: -1 }), "RangeError", /options\.cap must be an integer >= 0, got -1/);
    expectThrows(() => shareInBatchNegatives(batch(), { cap: 1.5 }), "RangeError", /options\.cap/);
    expectThrows(() => shareInBatchNegatives(batch(), { maxHistoryJaccard: 0.5 }), "TypeError", /needs options\.histories .* a PreferenceBatch carries none/);
    expectThrows(() => shareInBatchNegatives(batch(), { histories: [[1]], maxHistoryJaccard: 0.5 }), "RangeError", /options\.histories must hold B = 4 lists, got 1/);
    expectThrows(() => shareInBatchNegatives(batch(), { histories: [[1], [2], [3], [4]], maxHistoryJaccard: 2 }), "RangeError", /maxHistoryJaccard must be a number in \[0, 1\], got 2/);
    expectThrows(() => shareInBatchNegatives(makeBatch([1], [[-1]])), "RangeError", /row 0 \(source row 100\) has no negative/);
    expectThrows(() => shareInBatchNegatives(makeBatch([1, 1], [[], []])), "RangeError", /row 0 .* has no negative/);
    expectThrows(() => shareInBatchNegatives({ ...batch(), rejectedItems: new Int32Array(3) }), "RangeError", /batch\.rejectedItems must have length B\*K = 8, got 3/);
  });
});
