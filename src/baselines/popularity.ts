/**
 * The popularity baseline: an item's score is how often it appears in the training rows, counted both as a
 * target (chosen_item) and as an item of a history (every occurrence). Candidates with equal counts tie,
 * and ties count against the target (ranking.ts).
 */
import { BASELINE_FORMAT, checkCounts, checkRowItems, type Baseline, type BaselineSource } from "./baseline";
import type { RecommendationRow } from "./rows";
import { writeBaselineFolder } from "./store";

/** popularity[i] = rows whose target is item i + occurrences of item i in the histories. */
export function countPopularity(rows: readonly RecommendationRow[], itemCount: number): Float64Array {
  const counts = new Float64Array(itemCount);
  for (const row of rows) {
    counts[row.target]++;
    for (const item of row.history) counts[item]++;
  }
  return counts;
}

export class PopularityBaseline implements Baseline {
  readonly kind = "popularity" as const;

  constructor(readonly source: BaselineSource, readonly popularity: Float64Array) {
    if (popularity.length !== source.itemCount) throw new RangeError(`popularity baseline: ${popularity.length} counts for ${source.itemCount} items`);
  }

  static fit(rows: readonly RecommendationRow[], source: BaselineSource): PopularityBaseline {
    return new PopularityBaseline(source, countPopularity(rows, source.itemCount));
  }

  async scoreRows(rows: readonly RecommendationRow[]): Promise<Float64Array[]> {
    checkRowItems(rows, this.source.itemCount, "popularity baseline");
    return rows.map((row) => Float64Array.from(row.candidates, (item) => this.popularity[item]));
  }

  async save(dir: string, options: { overwrite?: boolean } = {}): Promise<void> {
    await writeBaselineFolder(dir, { format: BASELINE_FORMAT, kind: this.kind, source: this.source, popularity: Array.from(this.popularity) }, options);
  }

  dispose(): void {}

  static fromJson(json: Record<string, unknown>, source: BaselineSource, where: string): PopularityBaseline {
    return new PopularityBaseline(source, checkCounts(json.popularity, source.itemCount, `${where}: "popularity"`));
  }
}
