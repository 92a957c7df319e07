/**
 * A rank's share of a global batch, as DistributedSampler deals it: positions rank, rank + W, rank + 2W, ...
 * Every rank reads the same seeded global batch and keeps its rows, so the ranks' shards are disjoint and
 * together the whole batch; a last, short global batch leaves some ranks fewer rows (or none).
 */
import type { PreferenceBatch } from "../data/batch";
import { ListGather } from "../data/pack";

/** Positions (0-based, within a global batch of `size` rows) that `rank` of `worldSize` keeps. */
export function shardPositions(size: number, rank: number, worldSize: number): number[] {
  const out: number[] = [];
  for (let p = rank; p < size; p += worldSize) out.push(p);
  return out;
}

/** The rows of `batch` at `positions` (in that order) as a batch of their own; null when there are none. */
export function selectRows(batch: PreferenceBatch, positions: readonly number[]): PreferenceBatch | null {
  if (positions.length === 0) return null;
  const B = positions.length;
  const K = batch.negatives;
  for (const p of positions) {
    if (!Number.isInteger(p) || p < 0 || p >= batch.size) throw new RangeError(`selectRows: position ${p} is not a row of a batch of ${batch.size}`);
  }
  const lists = (packed: PreferenceBatch["prompt"], first: number, count: number, into: ListGather) => {
    for (let i = first; i < first + count; i++) into.add(packed.values, packed.offsets[i], packed.offsets[i + 1]);
  };
  const prompt = new ListGather();
  const chosen = new ListGather();
  const rejected = new ListGather();
  const candidates = new ListGather();
  const rows = new Int32Array(B);
  const chosenItem = new Int32Array(B);
  const rejectedItems = new Int32Array(B * K);
  const candidateOffsets = new Int32Array(B + 1);
  const items: number[] = [];
  const history = batch.historyFirstTokens ? new ListGather() : undefined;
  positions.forEach((p, b) => {
    if (history) lists(batch.historyFirstTokens!, p, 1, history);
    rows[b] = batch.rows[p];
    chosenItem[b] = batch.chosenItem[p];
    lists(batch.prompt, p, 1, prompt);
    lists(batch.chosen, p, 1, chosen);
    lists(batch.rejected, p * K, K, rejected);
    rejectedItems.set(batch.rejectedItems.subarray(p * K, (p + 1) * K), b * K);
    const first = batch.candidateOffsets[p];
    const count = batch.candidateOffsets[p + 1] - first;
    lists(batch.candidates, first, count, candidates);
    candidateOffsets[b + 1] = candidateOffsets[b] + count;
    for (let j = first; j < first + count; j++) items.push(batch.candidateItems[j]);
  });
  const source = batch.text;
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
    candidateItems: Int32Array.from(items),
    ...(history ? { historyFirstTokens: history.pack() } : {}),
    // Decoded only when read, like the source batch's own texts.
    text: {
      get prompt() {
        return positions.map((p) => source.prompt[p]);
      },
      get chosen() {
        return positions.map((p) => source.chosen[p]);
      },
      get candidates() {
        return positions.map((p) => source.candidates[p]);
      },
    },
  };
}
