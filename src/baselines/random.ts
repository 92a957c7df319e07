/**
 * The random baseline: every candidate gets a uniform score in [0, 1), seeded by (seed, file row), so a row
 * scores the same whatever batch it arrives in. Expected HR@1 with 20 candidates: 1/20.
 */
import { mixSeed, SeededRng } from "../rng";
import { BASELINE_FORMAT, checkRowItems, type Baseline, type BaselineSource } from "./baseline";
import type { RecommendationRow } from "./rows";
import { writeBaselineFolder } from "./store";

export class RandomBaseline implements Baseline {
  readonly kind = "random" as const;

  constructor(readonly source: BaselineSource, readonly seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`random baseline: seed must be an integer, got ${seed}`);
  }

  async scoreRows(rows: readonly RecommendationRow[]): Promise<Float64Array[]> {
    checkRowItems(rows, this.source.itemCount, "random baseline");
    return rows.map((row) => {
      const rng = new SeededRng(mixSeed(this.seed, row.row, 0x7a11d0));
      return Float64Array.from(row.candidates, () => rng.nextUint32() / 4294967296);
    });
  }

  async save(dir: string, options: { overwrite?: boolean } = {}): Promise<void> {
    await writeBaselineFolder(dir, { format: BASELINE_FORMAT, kind: this.kind, source: this.source, seed: this.seed }, options);
  }

  dispose(): void {}

  static fromJson(json: Record<string, unknown>, source: BaselineSource, where: string): RandomBaseline {
    if (!Number.isSafeInteger(json.seed)) throw new Error(`${where}: "seed" must be an integer`);
    return new RandomBaseline(source, json.seed as number);
  }
}
