/**
 * The co-occurrence baseline: how often a candidate followed an item of the history in the training rows.
 *
 * count(h -> c) = number of training rows whose history contains item h and whose target is item c.
 * A row's candidate c scores sum over the distinct items h of the row's history of count(h -> c); equal sums
 * are ordered by popularity (popularity.ts), and what is still equal ties (ties count against the target).
 */
import { BASELINE_FORMAT, checkCounts, checkRowItems, type Baseline, type BaselineSource } from "./baseline";
import { countPopularity } from "./popularity";
import type { RecommendationRow } from "./rows";
import { writeBaselineFolder } from "./store";

/** count(h -> c), keyed h * itemCount + c. */
export function countFollows(rows: readonly RecommendationRow[], itemCount: number): Map<number, number> {
  const follows = new Map<number, number>();
  for (const row of rows) {
    for (const h of new Set(row.history)) {
      const key = h * itemCount + row.target;
      follows.set(key, (follows.get(key) ?? 0) + 1);
    }
  }
  return follows;
}

export class CooccurrenceBaseline implements Baseline {
  readonly kind = "cooccurrence" as const;
  /** Every item's followers: followers.get(h) = [c, count(h -> c)] pairs. */
  private readonly followers = new Map<number, [number, number][]>();
  /** Multiplies the co-occurrence sum so popularity (< tieScale) only orders equal sums. */
  private readonly tieScale: number;

  constructor(readonly source: BaselineSource, readonly popularity: Float64Array, readonly follows: Map<number, number>) {
    const n = source.itemCount;
    if (popularity.length !== n) throw new RangeError(`cooccurrence baseline: ${popularity.length} counts for ${n} items`);
    let total = 0;
    for (const [key, count] of follows) {
      const h = Math.floor(key / n);
      const c = key % n;
      if (!(Number.isInteger(key) && key >= 0 && h < n && Number.isInteger(count) && count > 0)) {
        throw new RangeError(`cooccurrence baseline: bad count ${count} for key ${key} (${n} items)`);
      }
      total += count;
      const list = this.followers.get(h) ?? [];
      list.push([c, count]);
      this.followers.set(h, list);
    }
    this.tieScale = popularity.reduce((a, b) => Math.max(a, b), 0) + 1;
    // Every sum is at most `total`; the combined score must stay an exact double.
    if (!((total + 1) * this.tieScale < Number.MAX_SAFE_INTEGER)) throw new RangeError("cooccurrence baseline: counts too large to combine exactly");
  }

  static fit(rows: readonly RecommendationRow[], source: BaselineSource): CooccurrenceBaseline {
    return new CooccurrenceBaseline(source, countPopularity(rows, source.itemCount), countFollows(rows, source.itemCount));
  }

  /** sum over the distinct history items h of count(h -> c), for each candidate c of the row. */
  followSums(row: RecommendationRow): Float64Array {
    const position = new Map<number, number[]>();
    row.candidates.forEach((c, j) => position.set(c, [...(position.get(c) ?? []), j]));
    const sums = new Float64Array(row.candidates.length);
    for (const h of new Set(row.history)) {
      for (const [c, count] of this.followers.get(h) ?? []) {
        for (const j of position.get(c) ?? []) sums[j] += count;
      }
    }
    return sums;
  }

  async scoreRows(rows: readonly RecommendationRow[]): Promise<Float64Array[]> {
    checkRowItems(rows, this.source.itemCount, "cooccurrence baseline");
    return rows.map((row) => {
      const sums = this.followSums(row);
      return Float64Array.from(row.candidates, (c, j) => sums[j] * this.tieScale + this.popularity[c]);
    });
  }

  async save(dir: string, options: { overwrite?: boolean } = {}): Promise<void> {
    const n = this.source.itemCount;
    const follows = [...this.follows.entries()].sort((a, b) => a[0] - b[0]).map(([key, count]) => [Math.floor(key / n), key % n, count]);
    await writeBaselineFolder(
      dir,
      { format: BASELINE_FORMAT, kind: this.kind, source: this.source, popularity: Array.from(this.popularity), follows },
      options
    );
  }

  dispose(): void {}

  static fromJson(json: Record<string, unknown>, source: BaselineSource, where: string): CooccurrenceBaseline {
    const n = source.itemCount;
    const popularity = checkCounts(json.popularity, n, `${where}: "popularity"`);
    if (!Array.isArray(json.follows)) throw new Error(`${where}: "follows" must be a list of [history item, target item, count]`);
    const follows = new Map<number, number>();
    json.follows.forEach((entry: unknown, i: number) => {
      const [h, c, count] = Array.isArray(entry) ? (entry as unknown[]) : [];
      const id = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v < n;
      if (!(Array.isArray(entry) && entry.length === 3 && id(h) && id(c) && Number.isInteger(count) && (count as number) > 0)) {
        throw new Error(`${where}: "follows"[${i}] is ${JSON.stringify(entry)}, not [history item, target item, positive count] with ids below ${n}`);
      }
      follows.set((h as number) * n + (c as number), count as number);
    });
    return new CooccurrenceBaseline(source, popularity, follows);
  }
}
