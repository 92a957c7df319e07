/**
 * A small hand-written SVG line-chart writer (no dependencies, no network): panels side by side, each
 * with axes, "nice" ticks, gridlines, axis labels and a legend. Non-finite points break a line.
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
  panelWidth?: number; // default 480
  panelHeight?: number; // default 360
}

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** Round tick values (1, 2, 5 x 10^n apart) covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, count);
  }
  if (min > max) [min, max] = [max, min];
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
    if (ticks.length > 100) break;
  }
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function tickLabel(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

function renderPanel(panel: Panel, x0: number, width: number, height: number, colorOffset: number): string {
  const margin = { left: 64, right: 16, top: 36, bottom: 48 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const left = x0 + margin.left;
  const top = margin.top;
  const finite = panel.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const out: string[] = [];
  out.push(`<g class="panel">`);
  out.push(`<text x="${x0 + width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle" font-size="12">${escapeXml(panel.xLabel)}</text>`);
  out.push(
    `<text x="${x0 + 14}" y="${top + plotH / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 14} ${top + plotH / 2})">${escapeXml(panel.yLabel)}</text>`
  );
  if (finite.length === 0) {
    out.push(`<text x="${left + plotW / 2}" y="${top + plotH / 2}" text-anchor="middle" font-size="12" fill="#888">no data</text>`);
    out.push(`</g>`);
    return out.join("\n");
  }
  const xTicks = niceTicks(Math.min(...finite.map((p) => p[0])), Math.max(...finite.map((p) => p[0])));
  const yTicks = niceTicks(Math.min(...finite.map((p) => p[1])), Math.max(...finite.map((p) => p[1])));
  const [xMin, xMax] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [yMin, yMax] = [yTicks[0], yTicks[yTicks.length - 1]];
  const sx = (x: number): number => left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number): number => top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const r = (v: number): string => v.toFixed(2);
  for (const t of xTicks) {
    out.push(`<line x1="${r(sx(t))}" y1="${top}" x2="${r(sx(t))}" y2="${top + plotH}" stroke="#eee"/>`);
    out.push(`<line x1="${r(sx(t))}" y1="${top + plotH}" x2="${r(sx(t))}" y2="${top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${r(sx(t))}" y="${top + plotH + 18}" text-anchor="middle" font-size="11">${tickLabel(t)}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${left}" y1="${r(sy(t))}" x2="${left + plotW}" y2="${r(sy(t))}" stroke="#eee"/>`);
    out.push(`<line x1="${left - 5}" y1="${r(sy(t))}" x2="${left}" y2="${r(sy(t))}" stroke="#333"/>`);
    out.push(`<text x="${left - 8}" y="${r(sy(t) + 4)}" text-anchor="end" font-size="11">${tickLabel(t)}</text>`);
  }
  panel.series.forEach((series, i) => {
    const color = series.color ?? PALETTE[(i + colorOffset) % PALETTE.length];
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
  });
  // A pale box behind the legend so curves passing under it do not hide its text.
  const legendWidth = 150;
  const listed = panel.series.filter((x) => x.legend !== false);
  out.push(
    `<rect class="legend" x="${left + plotW - legendWidth - 6}" y="${top + 3}" width="${legendWidth}" height="${listed.length * 16 + 4}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`
  );
  listed.forEach((series, i) => {
    // Legend, top right inside the plot, drawn over the curves.
    const color = series.color ?? PALETTE[(panel.series.indexOf(series) + colorOffset) % PALETTE.length];
    const dash = series.dashed ? ` stroke-dasharray="6 4"` : "";
    const ly = top + 14 + i * 16;
    const lx = left + plotW - legendWidth;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 28}" y="${ly}" font-size="11">${escapeXml(series.name)}</text>`);
  });
  out.push(`</g>`);
  return out.join("\n");
}

/** The SVG document (a string) with `panels` side by side. */
export function lineChartSvg(panels: Panel[], options: ChartOptions = {}): string {
  const panelWidth = options.panelWidth ?? 480;
  const panelHeight = options.panelHeight ?? 360;
  const titleHeight = options.title ? 28 : 0;
  const width = panelWidth * Math.max(1, panels.length);
  const height = panelHeight + titleHeight;
  const parts = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (options.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`);
  parts.push(`<g transform="translate(0 ${titleHeight})">`);
  panels.forEach((panel, i) => parts.push(renderPanel(panel, i * panelWidth, panelWidth, panelHeight, 0)));
  parts.push(`</g>`, `</svg>`, "");
  return parts.join("\n");
}
