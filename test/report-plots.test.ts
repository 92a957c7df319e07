/**
 * The plots' tick maths and layout: ticks snapped to the step (a zero tick is "0", not 1.4e-17), the x axis
 * ending at the data's last step, the legend outside the plot area, panels with no data left out, the
 * smoothing and the losses' scales named; and the SVGs rendered to PNG where rsvg-convert is installed.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { lossScaleNote } from "../src/cli/commands/demo";
import { plotTrainingCurves, smoothingLabel, smoothingSpan } from "../src/report/curves";
import { formatTick, intersects, lineChartSvg, niceTicks, panelLayout, tickStep, ticksWithin, type Rect } from "../src/report/svg-chart";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-plots-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A training log like a demo run's: `steps` step events (loss falling from `start`), an eval every 64 steps. */
function writeLog(name: string, steps: number, start: number, reward: boolean): string {
  const file = path.join(dir, `${name}.jsonl`);
  const lines: string[] = [];
  for (let s = 1; s <= steps; s++) {
    const loss = start * Math.exp(-s / steps) + 0.05 * Math.sin(s);
    lines.push(JSON.stringify({ type: "step", step: s, loss, chosenReward: reward ? -0.3 + (0.5 * s) / steps : null }));
    if (s % 64 === 0) lines.push(JSON.stringify({ type: "eval", step: s, loss: loss + 0.05, chosenReward: reward ? -0.2 + (0.4 * s) / steps : null }));
  }
  fs.writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

function attr(tag: string, name: string): number {
  return Number(new RegExp(`\\s${name}="([^"]+)"`).exec(tag)![1]);
}
function rects(svg: string, cls: string): Rect[] {
  return [...svg.matchAll(new RegExp(`<rect class="${cls}"[^>]*>`, "g"))].map(([tag]) => ({ x: attr(tag, "x"), y: attr(tag, "y"), width: attr(tag, "width"), height: attr(tag, "height") }));
}
/** The bounding box of the curves of each panel (polyline points), in panel order. */
function curveBoxes(svg: string): Rect[] {
  return svg.split('<g class="panel">').slice(1).map((panel) => {
    const pts = [...panel.matchAll(/<polyline[^>]* points="([^"]+)"/g)].flatMap(([, p]) => p.split(" ").map((xy) => xy.split(",").map(Number)));
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    return { x: Math.min(...xs), y: Math.min(...ys), width: Math.max(...xs) - Math.min(...xs), height: Math.max(...ys) - Math.min(...ys) };
  });
}
/** The labels of the ticks of `axis` ("x" or "y") in the first panel. */
function tickLabels(svg: string, axis: "x" | "y"): string[] {
  const panel = svg.split('<g class="panel">')[1];
  return [...panel.matchAll(new RegExp(`<text class="tick ${axis}"[^>]*>([^<]*)</text>`, "g"))].map((m) => m[1]);
}

describe("tick maths", () => {
  test("ticks(-0.3, 0.2): exact multiples of the step, 0 exactly 0 and labelled \"0\"", () => {
    const ticks = niceTicks(-0.3, 0.2);
    expect(ticks).toEqual([-0.3, -0.2, -0.1, 0, 0.1, 0.2]);
    expect(ticks.some((t) => Object.is(t, 0))).toBe(true);
    expect(ticks.map(formatTick)).toEqual(["-0.3", "-0.2", "-0.1", "0", "0.1", "0.2"]);
    expect(formatTick(0)).toBe("0");
    expect(formatTick(-0)).toBe("0");
  });

  test("over many ranges every tick is a whole multiple of the step, a range across 0 has a 0 tick, the ticks cover the range", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const scale = 10 ** Math.floor(random() * 12 - 6);
      const a = (random() * 2 - 1) * scale;
      const b = a + random() * scale * 3 + scale * 1e-3;
      const ticks = niceTicks(a, b);
      const step = tickStep(b - a);
      expect(ticks[0]).toBeLessThanOrEqual(a);
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(b);
      for (const t of ticks) expect(Math.abs(t / step - Math.round(t / step))).toBeLessThan(1e-6);
      if (a < 0 && b > 0) expect(ticks).toContain(0);
      for (const t of ticks) if (Math.abs(t) < step / 2) expect(formatTick(t)).toBe("0");
    }
  });

  test("ticksWithin keeps the axis at the data: 313 steps end at 313, not 400", () => {
    expect(ticksWithin(1, 313)).toEqual([100, 200, 300]);
    expect(ticksWithin(0, 313)).toEqual([0, 100, 200, 300]);
    expect(ticksWithin(1, 10)).toEqual([2, 4, 6, 8, 10]);
    expect(niceTicks(1, 313)).toEqual([0, 100, 200, 300, 400]); // the y axis's widening, for comparison
  });

  test("the SVG's x axis spans the data: its last point is at the plot's right edge; the reward axis has a clean 0", () => {
    const file = writeLog("run313", 313, 1.4, true);
    const svgPath = path.join(dir, "run313.svg");
    plotTrainingCurves([{ label: "sdpo", path: file }], svgPath);
    const svg = fs.readFileSync(svgPath, "utf8");
    const [plot] = rects(svg, "plot");
    expect(curveBoxes(svg)[0].x + curveBoxes(svg)[0].width).toBeCloseTo(plot.x + plot.width, 1);
    expect(tickLabels(svg, "x")).toEqual(["100", "200", "300"]);
    const rewardPanel = svg.split('<g class="panel">')[2];
    const rewardTicks = [...rewardPanel.matchAll(/<text class="tick y"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(rewardTicks).toContain("0");
    expect(rewardTicks.join(" ")).not.toMatch(/e-/);
  });
});

describe("layout", () => {
  test("the legend lies outside the plot area, below it, and apart from the curves", () => {
    const series = [
      { name: "DPO train", points: [[1, 0.69], [50, 0.4], [100, 0.2]] as [number, number][] },
      { name: "DPO validation", dashed: true, points: [[50, 0.5], [100, 0.3]] as [number, number][] },
      { name: "S-DPO train", points: [[1, 1.39], [50, 1.3], [100, 1.2]] as [number, number][] },
      { name: "S-DPO validation", dashed: true, points: [[50, 1.35], [100, 1.25]] as [number, number][] },
    ];
    const svg = lineChartSvg([{ title: "Loss", xLabel: "step", yLabel: "loss", series }, { title: "Reward", xLabel: "step", yLabel: "r", series: series.slice(0, 2) }], { title: "t", subtitle: ["a", "b"] });
    const plots = rects(svg, "plot");
    const legends = rects(svg, "legend");
    expect(plots).toHaveLength(2);
    expect(legends).toHaveLength(2);
    const curves = curveBoxes(svg);
    for (let i = 0; i < 2; i++) {
      expect(intersects(legends[i], plots[i])).toBe(false);
      expect(intersects(legends[i], curves[i])).toBe(false);
      expect(legends[i].y).toBeGreaterThan(plots[i].y + plots[i].height);
      // Inside the document (its height grows with the legend's rows).
      const height = Number(/<svg[^>]* height="(\d+)"/.exec(svg)![1]);
      expect(legends[i].y + legends[i].height + 28 + 2 * 16 + 4).toBeLessThanOrEqual(height);
    }
    // Both panels' legends start at the same height, whatever their number of entries.
    expect(legends[0].y).toBe(legends[1].y);
  });

  test("panelLayout: no legend without entries; a legend never overlaps the plot whatever the entries", () => {
    expect(panelLayout(0, 480, 360, 0).legend).toBeNull();
    for (let entries = 1; entries <= 12; entries++) {
      const { plot, legend } = panelLayout(480, 480, 360, entries);
      expect(intersects(plot, legend!)).toBe(false);
      expect(legend!.x).toBeGreaterThanOrEqual(plot.x);
      expect(legend!.x + legend!.width).toBeLessThanOrEqual(plot.x + plot.width);
    }
    expect(intersects({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 5, width: 10, height: 10 })).toBe(true);
    expect(intersects({ x: 0, y: 0, width: 10, height: 10 }, { x: 10, y: 0, width: 10, height: 10 })).toBe(false);
  });
});

describe("what the curves say", () => {
  test("subtitle lines are wrapped to the chart's width (a one-panel SFT chart is 480 px wide)", () => {
    const sftSvg = path.join(dir, "sft-narrow.svg");
    plotTrainingCurves([{ label: "SFT", path: writeLog("sft-narrow", 100, 8, false) }], sftSvg, { notes: ["a note that is rather long as well, long enough to need a second line here"] });
    const svg = fs.readFileSync(sftSvg, "utf8");
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    const lines = [...svg.matchAll(/<text class="subtitle"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(width).toBe(480);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(line.length * 6.8).toBeLessThanOrEqual(width - 16);
    expect(lines.join(" ")).toBe("train: EMA span 3 (decay 0.50) of the per-step values, raw values faint; validation: dashed a note that is rather long as well, long enough to need a second line here");
  });

  test("the subtitle names the smoothing; dpo-vs-sdpo notes the losses' different scales", () => {
    const dpo = writeLog("dpo", 313, Math.log(2), true);
    const sdpo = writeLog("sdpo", 313, Math.log(4), true);
    const svgPath = path.join(dir, "dpo-vs-sdpo.svg");
    plotTrainingCurves([{ label: "DPO", path: dpo }, { label: "S-DPO", path: sdpo }], svgPath, { title: "DPO vs S-DPO", notes: [lossScaleNote(3)] });
    const svg = fs.readFileSync(svgPath, "utf8");
    expect(smoothingSpan(313)).toBe(10);
    expect(smoothingLabel(10)).toBe("EMA span 10 (decay 0.82)");
    expect(svg).toContain(">train: EMA span 10 (decay 0.82) of the per-step values, raw values faint; validation: dashed<");
    expect(lossScaleNote(3)).toBe("Loss scales differ: DPO starts at log 2 ≈ 0.69, S-DPO (K = 3) at log(K+1) ≈ 1.39");
    expect(svg).toContain(`>${lossScaleNote(3)}<`);
  });
});

const rsvg = spawnSync("rsvg-convert", ["--version"], { encoding: "utf8" });
const haveRsvg = rsvg.status === 0;
(haveRsvg ? test : test.skip)(
  `the SVGs render to PNG with rsvg-convert (${haveRsvg ? rsvg.stdout.trim() : "rsvg-convert not installed (apt-get install librsvg2-bin): skipped"})`,
  () => {
    const sft = writeLog("sft", 313, 8, false);
    const sftSvg = path.join(dir, "sft.svg");
    plotTrainingCurves([{ label: "SFT", path: sft }], sftSvg);
    const both = path.join(dir, "both.svg");
    plotTrainingCurves([{ label: "DPO", path: writeLog("d", 200, 0.69, true) }, { label: "S-DPO", path: writeLog("s", 200, 1.39, true) }], both, { notes: [lossScaleNote(3)] });
    for (const svgFile of [sftSvg, both]) {
      const png = svgFile.replace(/\.svg$/, ".png");
      const run = spawnSync("rsvg-convert", ["-o", png, svgFile], { encoding: "utf8" });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: "" });
      const bytes = fs.readFileSync(png);
      expect(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
      const svg = fs.readFileSync(svgFile, "utf8");
      const [width, height] = [/<svg[^>]* width="(\d+)"/, /<svg[^>]* height="(\d+)"/].map((re) => Number(re.exec(svg)![1]));
      expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([width, height]); // IHDR
      if (process.env.SDPO_KEEP_PLOTS) fs.copyFileSync(png, path.join(process.env.SDPO_KEEP_PLOTS, path.basename(png)));
    }
  }
);
