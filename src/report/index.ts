/** Progress, logs and plots for training runs. */
export { attachProgress, createProgress, formatDuration } from "./progress";
export type { Progress, ProgressOptions } from "./progress";
export { attachJsonlLog, openJsonl, readJsonl, trimJsonlAfterStep } from "./jsonl";
export type { JsonlWriter } from "./jsonl";
export { plotTrainingCurves } from "./curves";
export type { RunLog, CurveOptions } from "./curves";
export { lineChartSvg, niceTicks, ticksWithin, formatTick, escapeXml } from "./svg-chart";
export type { Panel, Series, ChartOptions } from "./svg-chart";
export type { TrainerEventSource } from "./events";
