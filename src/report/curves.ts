/**
 * Training curves from JSONL logs, like the S-DPO paper's Figure 2b/2c: loss (training, and validation at
 * each eval) and the chosen response's reward beta * (log pi - log pi_ref), per run. Several runs (e.g.
 * DPO and S-DPO) go in one figure, one colour each; training is solid, validation dashed.
 */
import * as fs from "fs";
import * as path from "path";
import { readJsonl } from "./jsonl";
import { lineChartSvg, PALETTE, type Panel, type Series } from "./svg-chart";

export interface RunLog {
  label: string;
  path: string;
}

function points(records: Record<string, unknown>[], type: string, field: string): [number, number][] {
  return records
    .filter((r) => r.type === type && typeof r.step === "number")
    .map((r) => [r.step as number, typeof r[field] === "number" ? (r[field] as number) : NaN]);
}

/** The EMA span `smooth` uses by default for `count` points: about 1/30 of them. */
export function smoothingSpan(count: number): number {
  return Math.max(1, Math.round(count / 30));
}

/**
 * Exponential moving average (non-finite values skipped), span about 1/30 of the points, so noisy
 * per-step training values read as a trend; the raw values are drawn faintly underneath.
 */
export function smooth(points: [number, number][], span = smoothingSpan(points.length)): [number, number][] {
  const alpha = 2 / (span + 1);
  let average: number | undefined;
  return points.map(([x, y]) => {
    if (Number.isFinite(y)) average = average === undefined ? y : average + alpha * (y - average);
    return [x, average ?? NaN];
  });
}

/** "EMA span 10 (decay 0.82)": how a training curve of `span` is smoothed, as the chart's subtitle says it. */
export function smoothingLabel(span: number): string {
  return `EMA span ${span} (decay ${(1 - 2 / (span + 1)).toFixed(2)})`;
}

export interface CurveOptions {
  title?: string;
  /** More subtitle lines, e.g. that two runs' losses have different scales. */
  notes?: string[];
}

/**
 * Writes the SVG at `svgPath` and returns its series counts (points per series name). A panel with nothing to
 * draw (SFT's reward) is left out; the subtitle says how the training curves are smoothed.
 */
export function plotTrainingCurves(logs: string | RunLog[], svgPath: string, options: CurveOptions = {}): Record<string, number> {
  const runs: RunLog[] = typeof logs === "string" ? [{ label: "", path: logs }] : logs;
  if (runs.length === 0) throw new RangeError("plotTrainingCurves: no JSONL logs given");
  const loss: Series[] = [];
  const reward: Series[] = [];
  const spans: { label: string; span: number }[] = [];
  let validation = false;
  runs.forEach((run, i) => {
    const records = readJsonl(run.path);
    const color = PALETTE[i % PALETTE.length];
    const name = (what: string): string => (run.label ? `${run.label} ${what}` : what);
    for (const [panel, field] of [[loss, "loss"], [reward, "chosenReward"]] as const) {
      const train = points(records, "step", field);
      const span = smoothingSpan(train.length);
      if (panel === loss) spans.push({ label: run.label, span });
      panel.push({ name: name("train (raw)"), color, opacity: 0.25, legend: false, points: train });
      panel.push({ name: name("train"), color, points: smooth(train, span) });
      const evals = points(records, "eval", field);
      validation ||= evals.some(([, y]) => Number.isFinite(y));
      panel.push({ name: name("validation"), color, dashed: true, points: evals });
    }
  });
  // Drop series with nothing to draw (no eval ran; SFT has no reward) so the legend lists only what is drawn,
  // and panels left with none (SFT's reward panel).
  const nonEmpty = (s: Series[]): Series[] => s.filter((x) => x.points.some(([px, py]) => Number.isFinite(px) && Number.isFinite(py)));
  const panels: Panel[] = [
    { title: "Loss", xLabel: "optimizer step", yLabel: "loss", series: nonEmpty(loss) },
    { title: "Chosen reward", xLabel: "optimizer step", yLabel: "β·(log π − log π_ref) of chosen", series: nonEmpty(reward) },
  ];
  const drawn = panels.filter((p) => p.series.length > 0);
  const sameSpan = spans.every((s) => s.span === spans[0].span);
  const smoothing = sameSpan
    ? smoothingLabel(spans[0].span)
    : spans.map((s) => `${smoothingLabel(s.span)} for ${s.label}`).join(", ");
  const subtitle = [`train: ${smoothing} of the per-step values, raw values faint${validation ? "; validation: dashed" : ""}`, ...(options.notes ?? [])];
  const svg = lineChartSvg(drawn.length > 0 ? drawn : [panels[0]], {
    title: options.title ?? (runs.length === 1 ? `Training curves ${runs[0].label}`.trim() : "Training curves"),
    subtitle,
  });
  fs.mkdirSync(path.dirname(path.resolve(svgPath)), { recursive: true });
  fs.writeFileSync(svgPath, svg);
  const counts: Record<string, number> = {};
  for (const s of [...loss.map((x) => ({ ...x, name: "loss " + x.name })), ...reward.map((x) => ({ ...x, name: "reward " + x.name }))]) {
    counts[s.name] = s.points.length;
  }
  return counts;
}
