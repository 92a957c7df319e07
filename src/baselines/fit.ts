/** Fitting a baseline of any kind on a training file, and loading one back from its folder. */
import * as path from "path";
import type { DeviceName } from "../native";
import { isBaselineKind, BASELINE_KINDS, type Baseline, type BaselineKind } from "./baseline";
import { CooccurrenceBaseline } from "./cooccurrence";
import { PopularityBaseline } from "./popularity";
import { RandomBaseline } from "./random";
import { readRecommendationRows, type RecommendationData } from "./rows";
import { SasrecBaseline, type SasrecOptions } from "./sasrec";
import { readBaselineJson, sourceOf } from "./store";

export interface FitBaselineOptions {
  /** random: the scores' seed; sasrec: initialisation, example order and trainer seed. Default 0. */
  seed?: number;
  /** sasrec only. */
  sasrec?: Omit<SasrecOptions, "seed">;
}

/**
 * Fits a baseline on `train` (an .arrow path, or rows already read by readRecommendationRows): counting
 * and training use that file only.
 */
export async function fitBaseline(kind: BaselineKind, train: string | RecommendationData, options: FitBaselineOptions = {}): Promise<Baseline> {
  if (!isBaselineKind(kind)) throw new RangeError(`fitBaseline: unknown kind ${JSON.stringify(kind)} (expected ${BASELINE_KINDS.join(", ")})`);
  const data = typeof train === "string" ? await readRecommendationRows(train) : train;
  if (data.rows.length === 0) throw new RangeError(`fitBaseline: ${data.name} holds no rows`);
  const source = sourceOf(data.name, data);
  const seed = options.seed ?? 0;
  switch (kind) {
    case "random":
      return new RandomBaseline(source, seed);
    case "popularity":
      return PopularityBaseline.fit(data.rows, source);
    case "cooccurrence":
      return CooccurrenceBaseline.fit(data.rows, source);
    case "sasrec":
      return SasrecBaseline.fit(data.rows, source, { ...options.sasrec, seed });
  }
}

/** A baseline folder written by `save()` / `sdpo baseline`. */
export async function loadBaseline(dir: string, options: { device?: DeviceName } = {}): Promise<Baseline> {
  const json = await readBaselineJson(dir);
  const where = path.join(dir, "baseline.json");
  switch (json.kind) {
    case "random":
      return RandomBaseline.fromJson(json, json.source, where);
    case "popularity":
      return PopularityBaseline.fromJson(json, json.source, where);
    case "cooccurrence":
      return CooccurrenceBaseline.fromJson(json, json.source, where);
    case "sasrec":
      return SasrecBaseline.load(dir, json, json.source, options);
  }
}
