/**
 * A small hand-written SVG line-chart writer (no dependencies, no network): panels side by side, each
 * with axes, "nice" ticks, gridlines, axis labels and a legend below the plot (never over the curves).
 * Non-finite points break a line. The x axis spans the data exactly (ticks inside it); the y axis is
 * widened to the nice ticks around the data.
 */

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color?: string;
  dashed?: boolean;
  /** Stroke opacity (e.g. faint raw values under a smoothed curve); default 1. */
  opacity?: number;
  /** Listed in the legend (default true). */
  legend?: boolean;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

export interface ChartOptions {
  title?: string;
  /** Lines of smaller text under the title: what the reader needs to read the curves (smoothing, scales). */
  subtitle?: string | string[];
  panelWidth?: number; // default 480
  panelHeight?: number; // default 360 (the legend's rows come on top of it)
}

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** The 1, 2, 5 x 10^n step that gives about `count` intervals over a span of `span`. */
export function tickStep(span: number, count = 5): number {
  const raw = span / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-12))!;
}

/** `value` rounded to the decimals of `step` (a 1, 2, 5 x 10^n): 3 x 0.1 is 0.3, -0.3 + 3 x 0.1 is 0, not 1.4e-17. */
function snap(value: number, step: number): number {
  const decimals = Math.min(100, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  const snapped = Number(value.toFixed(decimals));
  return snapped === 0 ? 0 : snapped; // no -0
}

/**
 * Round tick values (1, 2, 5 x 10^n apart) covering [min, max], about `count` of them. Each tick is a whole
 * multiple of the step, computed as one (not by adding steps up), so 0 is exactly 0.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, count);
  }
  if (min > max) [min, max] = [max, min];
  const step = tickStep(max - min, count);
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last && ticks.length <= 100; i++) ticks.push(snap(i * step, step));
  return ticks;
}

/** Ticks inside [min, max] only, for an axis that spans the data exactly (the x axis: steps). */
export function ticksWithin(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  const slack = (max - min) * 1e-9;
  return niceTicks(min, max, count).filter((t) => t >= min - slack && t <= max + slack);
}

/** A tick's label: "0" for zero, up to 4 significant digits, exponent notation for very large or small values. */
export function formatTick(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Whether two rectangles overlap (touching edges do not). */
export function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };
const LEGEND_ROW = 16;
const LEGEND_COLUMN = 150;

/** Legend entries of a panel: the series it lists. */
function listed(panel: Panel): Series[] {
  return panel.series.filter((s) => s.legend !== false);
}

/** Columns and rows of a legend of `entries` under a plot `plotWidth` wide. */
function legendGrid(entries: number, plotWidth: number): { columns: number; rows: number } {
  const columns = Math.max(1, Math.min(entries, Math.floor(plotWidth / LEGEND_COLUMN)));
  return { columns, rows: Math.ceil(entries / columns) };
}

/**
 * Where a panel's parts go (panel-local y, x from `x0`): the plot rectangle within `width` x `height`, and the
 * box of a legend of `entries` below the x axis's label, outside the plot (lineChartSvg adds its rows' height).
 */
export function panelLayout(x0: number, width: number, height: number, entries: number): { plot: Rect; legend: Rect | null; xLabelY: number } {
  const plot = { x: x0 + MARGIN.left, y: MARGIN.top, width: width - MARGIN.left - MARGIN.right, height: height - MARGIN.top - MARGIN.bottom };
  const xLabelY = plot.y + plot.height + 36;
  if (entries === 0) return { plot, legend: null, xLabelY };
  const { columns, rows } = legendGrid(entries, plot.width);
  const legendWidth = Math.min(plot.width, columns * LEGEND_COLUMN);
  const legend = { x: plot.x + (plot.width - legendWidth) / 2, y: xLabelY + 10, width: legendWidth, height: rows * LEGEND_ROW + 4 };
  return { plot, legend, xLabelY };
}

function renderPanel(panel: Panel, x0: number, width: number, height: number): string {
  const entries = listed(panel);
  const { plot, legend, xLabelY } = panelLayout(x0, width, height, entries.length);
  const { x: left, y: top, width: plotW, height: plotH } = plot;
  const finite = panel.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const out: string[] = [];
  out.push(`<g class="panel">`);
  out.push(`<text x="${x0 + width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`);
  out.push(`<rect class="plot" x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${xLabelY}" text-anchor="middle" font-size="12">${escapeXml(panel.xLabel)}</text>`);
  out.push(
    `<text x="${x0 + 14}" y="${top + plotH / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 14} ${top + plotH / 2})">${escapeXml(panel.yLabel)}</text>`
  );
  if (finite.length === 0) {
    out.push(`<text x="${left + plotW / 2}" y="${top + plotH / 2}" text-anchor="middle" font-size="12" fill="#888">no data</text>`);
    out.push(`</g>`);
    return out.join("\n");
  }
  // x: the data's own extent (a run of 313 steps ends at 313); y: widened to the nice ticks around the data.
  let [xMin, xMax] = [Math.min(...finite.map((p) => p[0])), Math.max(...finite.map((p) => p[0]))];
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  const xTicks = ticksWithin(xMin, xMax);
  const yTicks = niceTicks(Math.min(...finite.map((p) => p[1])), Math.max(...finite.map((p) => p[1])));
  const [yMin, yMax] = [yTicks[0], yTicks[yTicks.length - 1]];
  const sx = (x: number): number => left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number): number => top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const r = (v: number): string => v.toFixed(2);
  for (const t of xTicks) {
    out.push(`<line x1="${r(sx(t))}" y1="${top}" x2="${r(sx(t))}" y2="${top + plotH}" stroke="#eee"/>`);
    out.push(`<line x1="${r(sx(t))}" y1="${top + plotH}" x2="${r(sx(t))}" y2="${top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text class="tick x" x="${r(sx(t))}" y="${top + plotH + 18}" text-anchor="middle" font-size="11">${formatTick(t)}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${left}" y1="${r(sy(t))}" x2="${left + plotW}" y2="${r(sy(t))}" stroke="#eee"/>`);
    out.push(`<line x1="${left - 5}" y1="${r(sy(t))}" x2="${left}" y2="${r(sy(t))}" stroke="#333"/>`);
    out.push(`<text class="tick y" x="${left - 8}" y="${r(sy(t) + 4)}" text-anchor="end" font-size="11">${formatTick(t)}</text>`);
  }
  const colorOf = (series: Series): string => series.color ?? PALETTE[panel.series.indexOf(series) % PALETTE.length];
  for (const series of panel.series) {
    const color = colorOf(series);
    const dash = (series.dashed ? ` stroke-dasharray="6 4"` : "") + (series.opacity !== undefined ? ` stroke-opacity="${series.opacity}"` : "");
    // Split at non-finite points so a NaN loss shows as a gap, not a wrong line.
    const runs: string[][] = [[]];
    for (const [x, y] of series.points) {
      if (Number.isFinite(x) && Number.isFinite(y)) runs[runs.length - 1].push(`${r(sx(x))},${r(sy(y))}`);
      else if (runs[runs.length - 1].length > 0) runs.push([]);
    }
    for (const run of runs) {
      if (run.length === 1) out.push(`<circle cx="${run[0].split(",")[0]}" cy="${run[0].split(",")[1]}" r="2.5" fill="${color}"${series.opacity !== undefined ? ` fill-opacity="${series.opacity}"` : ""}/>`);
      else if (run.length > 1) out.push(`<polyline class="series" data-name="${escapeXml(series.name)}" fill="none" stroke="${color}" stroke-width="1.5"${dash} points="${run.join(" ")}"/>`);
    }
  }
  if (legend) {
    // Below the plot and its axis label: it never covers a curve.
    out.push(`<rect class="legend" x="${r(legend.x)}" y="${r(legend.y)}" width="${r(legend.width)}" height="${r(legend.height)}" fill="white" stroke="#ccc"/>`);
    const { columns } = legendGrid(entries.length, plotW);
    entries.forEach((series, i) => {
      const dash = series.dashed ? ` stroke-dasharray="6 4"` : "";
      const lx = legend.x + 6 + (i % columns) * LEGEND_COLUMN;
      const ly = legend.y + 13 + Math.floor(i / columns) * LEGEND_ROW;
      out.push(`<line x1="${r(lx)}" y1="${r(ly - 4)}" x2="${r(lx + 22)}" y2="${r(ly - 4)}" stroke="${colorOf(series)}" stroke-width="2"${dash}/>`);
      out.push(`<text x="${r(lx + 28)}" y="${r(ly)}" font-size="11">${escapeXml(series.name)}</text>`);
    });
  }
  out.push(`</g>`);
  return out.join("\n");
}

/** Average width of a character of 12 px sans-serif, with some room (for wrapping subtitle lines). */
const SUBTITLE_CHAR_WIDTH = 6.8;

/** `text` broken at spaces into lines of at most `maxChars` characters (a longer word stands alone). */
export function wrapText(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > maxChars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The SVG document (a string) with `panels` side by side. */
export function lineChartSvg(panels: Panel[], options: ChartOptions = {}): string {
  const panelWidth = options.panelWidth ?? 480;
  const panelHeight = options.panelHeight ?? 360;
  const documentWidth = panelWidth * Math.max(1, panels.length);
  const given = options.subtitle === undefined ? [] : typeof options.subtitle === "string" ? [options.subtitle] : options.subtitle;
  // Wrapped to the document's width: a one-panel chart is narrow.
  const subtitle = given.flatMap((line) => wrapText(line, Math.floor((documentWidth - 16) / SUBTITLE_CHAR_WIDTH)));
  const titleHeight = (options.title ? 28 : 0) + subtitle.length * 16 + (subtitle.length > 0 ? 4 : 0);
  const plotWidth = panelWidth - MARGIN.left - MARGIN.right;
  const legendRows = Math.max(0, ...panels.map((p) => (listed(p).length > 0 ? legendGrid(listed(p).length, plotWidth).rows : 0)));
  const legendHeight = legendRows > 0 ? legendRows * LEGEND_ROW + 16 : 0;
  const width = documentWidth;
  const height = panelHeight + legendHeight + titleHeight;
  const parts = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (options.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`);
  subtitle.forEach((line, i) => {
    const y = (options.title ? 28 : 0) + 14 + i * 16;
    parts.push(`<text class="subtitle" x="${width / 2}" y="${y}" text-anchor="middle" font-size="12" fill="#444">${escapeXml(line)}</text>`);
  });
  parts.push(`<g transform="translate(0 ${titleHeight})">`);
  panels.forEach((panel, i) => parts.push(renderPanel(panel, i * panelWidth, panelWidth, panelHeight)));
  parts.push(`</g>`, `</svg>`, "");
  return parts.join("\n");
}
