import { EventEmitter } from "events";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Writable } from "stream";
import { plotTrainingCurves, smooth } from "../src/report/curves";
import { attachJsonlLog, readJsonl } from "../src/report/jsonl";
import { attachProgress, createProgress, fitWidth, formatDuration } from "../src/report/progress";
import { escapeXml, lineChartSvg, niceTicks } from "../src/report/svg-chart";
import type { EvalEvent, StepEvent } from "../src/trainers/types";

/** Checks XML well-formedness enough for our writer: one root, every tag closed in order, clean entities. */
function expectWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, "");
  const stack: string[] = [];
  let roots = 0;
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (closing) expect(stack.pop()).toBe(name);
    else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
  // Every '<' starts a tag we parsed; every '&' starts an entity.
  const tags = [...body.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)].length;
  expect((body.match(/</g) ?? []).length).toBe(tags);
  expect(body.replace(/&(lt|gt|amp|quot|apos);/g, "")).not.toMatch(/&/);
}

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-report-"));
}

function step(n: number, loss: number, reward: number): StepEvent {
  return {
    type: "step", step: n, epoch: n / 10, loss, chosenReward: reward, rejectedReward: -reward, rewardAccuracy: 0.5,
    rewardMargin: 2 * reward, learningRate: 1e-4, gradNorm: 1, examplesPerSecond: 12.5, syncSeconds: 0, totalSteps: 10, elapsedSeconds: n,
  };
}
function evalEvent(n: number, loss: number, reward: number): EvalEvent {
  return { type: "eval", step: n, epoch: n / 10, loss, chosenReward: reward, rejectedReward: -reward, rewardAccuracy: 0.5, rows: 20 };
}

describe("SVG chart", () => {
  test("nice ticks cover the range with 1-2-5 steps", () => {
    expect(niceTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0.13, 0.71)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(-3.3, 12)).toEqual([-5, 0, 5, 10, 15]);
    const t = niceTicks(3, 3);
    expect(t[0]).toBeLessThanOrEqual(3);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(3);
    expect(niceTicks(NaN, 1)).toEqual([]);
  });

  test("is well-formed XML with one polyline per series, legend, and escaped text", () => {
    const svg = lineChartSvg(
      [
        { title: "Loss <&>", xLabel: "step", yLabel: "loss", series: [
          { name: "dpo \"train\"", points: [[1, 0.7], [2, 0.6], [3, 0.5]] },
          { name: "sdpo train", points: [[1, 1.4], [2, NaN], [3, 1.0], [4, 0.9]], dashed: true },
        ] },
        { title: "Empty", xLabel: "step", yLabel: "reward", series: [] },
      ],
      { title: "Curves" }
    );
    expectWellFormedXml(svg);
    expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain("Loss &lt;&amp;&gt;");
    expect(svg).toContain('data-name="dpo &quot;train&quot;"');
    expect(svg).toContain("no data");
    // The NaN splits the second series into a one-point run (a dot) and a two-point line.
    expect((svg.match(/class="series"/g) ?? []).length).toBe(2);
    expect(svg).toMatch(/<circle /);
    expect(svg).toContain("stroke-dasharray");
    expect(escapeXml(`a<b & "c" 'd'`)).toBe("a&lt;b &amp; &quot;c&quot; &apos;d&apos;");
  });
});

describe("JSONL log and curves", () => {
  test("smoothing is an EMA that skips non-finite values", () => {
    const out = smooth([[1, 0], [2, 3], [3, NaN], [4, 3]], 2); // alpha = 2/3
    expect(out.map(([x]) => x)).toEqual([1, 2, 3, 4]);
    expect(out[0][1]).toBe(0);
    expect(out[1][1]).toBeCloseTo(2, 12);
    expect(out[2][1]).toBeCloseTo(2, 12);
    expect(out[3][1]).toBeCloseTo(2 + (2 / 3) * 1, 12);
    expect(Number.isNaN(smooth([[1, NaN]])[0][1])).toBe(true);
  });

  test("each event is one line, on disk as soon as it fires; curves plot from the log", () => {
    const dir = tmpdir();
    const file = path.join(dir, "logs", "sdpo.jsonl");
    const trainer = new EventEmitter();
    const log = attachJsonlLog(trainer, file);
    trainer.emit("step", step(1, 1.5, 0.1));
    expect(readJsonl(file)).toHaveLength(1); // written before close
    trainer.emit("step", step(2, 1.2, 0.3));
    trainer.emit("eval", evalEvent(2, 1.3, 0.2));
    trainer.emit("checkpoint", { type: "checkpoint", step: 2, path: "/x/checkpoint-2" });
    trainer.emit("step", { ...step(3, NaN, 0.4) });
    log.close();
    trainer.emit("step", step(4, 1.0, 0.5)); // detached: not logged
    const records = readJsonl(file);
    expect(records.map((r) => r.type)).toEqual(["step", "step", "eval", "checkpoint", "step"]);
    expect(records[1]).toMatchObject({ step: 2, loss: 1.2, chosenReward: 0.3 });
    expect(records[4].loss).toBeNull(); // NaN is not JSON
    expect(typeof records[0].time).toBe("string");

    const svgPath = path.join(dir, "curves.svg");
    const counts = plotTrainingCurves([{ label: "sdpo", path: file }, { label: "dpo", path: file }], svgPath);
    expect(counts["loss sdpo train"]).toBe(3);
    expect(counts["loss dpo validation"]).toBe(1);
    expect(counts["reward sdpo train"]).toBe(3);
    const svg = fs.readFileSync(svgPath, "utf8");
    expectWellFormedXml(svg);
    expect(svg).toContain('data-name="sdpo train"');
    expect(svg).toContain('data-name="dpo train"');
    expect(svg).toContain("Chosen reward");
    expect(svg).toMatch(/data-name="sdpo train \(raw\)"[^>]*stroke-opacity="0.25"/); // raw values, faint
    expect(svg).not.toContain(">sdpo train (raw)<"); // and not in the legend
  });

  test("a series with no finite point (SFT has no reward) is left out of the plot and its legend", () => {
    const dir = tmpdir();
    const file = path.join(dir, "sft.jsonl");
    fs.writeFileSync(file, [step(1, 8.3, NaN), step(2, 8.1, NaN)].map((e) => JSON.stringify(e)).join("\n") + "\n");
    const svg = path.join(dir, "sft.svg");
    plotTrainingCurves([{ label: "sft", path: file }], svg);
    const text = fs.readFileSync(svg, "utf8");
    expect(text).toContain('data-name="sft train"'); // the loss
    expect((text.match(/>sft train</g) ?? []).length).toBe(1); // one legend entry: loss only
    // The reward panel, with nothing to draw, is left out (no empty "no data" panel).
    expect((text.match(/class="panel"/g) ?? []).length).toBe(1);
    expect(text).not.toContain("no data");
    expect(text).not.toContain("Chosen reward");
  });

  test("a trainer whose on() returns an unsubscribe function is detached on close", () => {
    const listeners = new Set<(e: StepEvent) => void>();
    const trainer = {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      on(event: string, fn: (e: any) => void) {
        if (event === "step") listeners.add(fn);
        return () => listeners.delete(fn);
      },
    };
    const file = path.join(tmpdir(), "run.jsonl");
    const log = attachJsonlLog(trainer, file);
    expect(listeners.size).toBe(1);
    for (const fn of listeners) fn(step(1, 2, 0));
    log.close();
    expect(listeners.size).toBe(0);
    expect(readJsonl(file)).toHaveLength(1);
  });

  test("a broken line names the file and line", () => {
    const file = path.join(tmpdir(), "bad.jsonl");
    fs.writeFileSync(file, '{"type":"step"}\n{oops\n');
    expect(() => readJsonl(file)).toThrow(/bad\.jsonl:2: not a JSON line/);
  });
});

describe("progress", () => {
  function sink(): { stream: Writable; text: () => string } {
    const chunks: string[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
    return { stream, text: () => chunks.join("") };
  }

  test("plain lines when not a TTY: first, last, eval and checkpoint lines", () => {
    const out = sink();
    const trainer = new EventEmitter();
    const progress = attachProgress(trainer, { label: "sdpo", stream: out.stream, tty: false, intervalSeconds: 3600, everyPercent: 0 });
    for (let i = 1; i <= 10; i++) trainer.emit("step", step(i, 2 - i / 10, 0));
    trainer.emit("eval", evalEvent(10, 0.9, 0.3));
    trainer.emit("checkpoint", { type: "checkpoint", step: 10, path: "/x/checkpoint-10" });
    progress.stop();
    const lines = out.text().trim().split("\n");
    // The trainer's clock: 1 s for the first step, so 9 more steps take about 9 s.
    expect(lines[0]).toMatch(/^sdpo: 1\/10 steps \(10%\) \| epoch 0\.10 \| loss 1\.9000 \| 12\.5 ex\/s \| 1s elapsed, ETA 9s$/);
    expect(lines[1]).toMatch(/^sdpo: 10\/10 steps \(100%\).*loss 1\.0000.*ETA 0s/);
    expect(lines[2]).toMatch(/sdpo eval @ step 10: loss 0\.9000, chosen reward 0\.3000/);
    expect(lines[3]).toMatch(/sdpo checkpoint @ step 10: \/x\/checkpoint-10/);
    expect(lines).toHaveLength(4);
  });

  test("a bar on a TTY", () => {
    const out = sink();
    const progress = createProgress(4, { label: "eval", unit: "rows", stream: out.stream, tty: true });
    progress.update(2, "batch 1");
    progress.stop();
    expect(out.text()).toMatch(/\reval \|█{10}░{10}\|  50% 2\/4 rows \| ETA [^|]+ \| batch 1 \| \d+s elapsed\x1b\[K\n$/);
  });

  test("not a TTY: a plain line every 10% of the steps (and at least every intervalSeconds), not only at the end", () => {
    const out = sink();
    const trainer = new EventEmitter();
    const progress = attachProgress(trainer, { label: "sdpo", stream: out.stream, tty: false, intervalSeconds: 3600 });
    for (let i = 1; i <= 100; i++) trainer.emit("step", { ...step(i, 1, 0), totalSteps: 100 });
    progress.stop();
    const lines = out.text().trim().split("\n");
    expect(lines.map((l) => Number(/^sdpo: (\d+)\/100 steps/.exec(l)?.[1]))).toEqual([1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    // With no share of the total given, the interval alone: 0 s prints every step.
    const every = sink();
    const p2 = createProgress(undefined, { stream: every.stream, tty: false, intervalSeconds: 0 });
    for (let i = 1; i <= 3; i++) p2.update(i);
    p2.stop();
    expect(every.text().trim().split("\n")).toHaveLength(3);
  });

  test("the bar stays within an 80-column terminal; eval and checkpoint lines are printed whole, above it, up to the last", () => {
    const out = sink();
    Object.assign(out.stream, { columns: 80 });
    const trainer = new EventEmitter();
    const progress = attachProgress(trainer, { label: "sdpo", stream: out.stream, tty: true });
    for (let i = 1; i <= 10; i++) trainer.emit("step", { ...step(i, 1.23456, 0), examplesPerSecond: 123456.7, elapsedSeconds: 3600 * i });
    trainer.emit("eval", evalEvent(10, 0.9, 0.3));
    trainer.emit("checkpoint", { type: "checkpoint", step: 10, path: "/a/rather/long/folder/name/for/the/run/of/this/test/checkpoint-10" });
    progress.stop();
    const text = out.text();
    // Every drawing of the bar: after a carriage return, up to the clear-to-end-of-line.
    const draws = [...text.matchAll(/\r([^\r\n]*?)\x1b\[K/g)].map((m) => m[1]).filter((d) => d !== "");
    expect(draws.length).toBeGreaterThan(0);
    for (const d of draws) expect(Array.from(d).length).toBeLessThanOrEqual(79);
    expect(draws[draws.length - 1]).toMatch(/^sdpo \|█{20}\| 100% 10\/10 steps \| ETA 0s \| epoch 1\.00 \| loss 1\.23…$/);
    const lines = text.split("\n").map((l) => l.replace(/^[\s\S]*\r\x1b\[K/, ""));
    expect(lines).toContain("sdpo eval @ step 10: loss 0.9000, chosen reward 0.3000, reward accuracy 0.500 (20 rows)");
    expect(lines).toContain("sdpo checkpoint @ step 10: /a/rather/long/folder/name/for/the/run/of/this/test/checkpoint-10");
    // The bar's final state is the last thing written, on a line of its own.
    expect(text.endsWith("loss 1.23…\x1b[K\n")).toBe(true);
    progress.log("after the stop");
    expect(out.text().endsWith("\nafter the stop\n")).toBe(true);
  });

  test("an SFT eval line gives the loss alone (no NaN rewards)", () => {
    const out = sink();
    const trainer = new EventEmitter();
    const progress = attachProgress(trainer, { label: "sft", stream: out.stream, tty: false });
    trainer.emit("eval", { ...evalEvent(4, 2.5, NaN), rewardAccuracy: NaN });
    progress.stop();
    expect(out.text()).toBe("sft eval @ step 4: loss 2.5000 (20 rows)\n");
  });

  test("fitWidth cuts by characters with an ellipsis", () => {
    expect(fitWidth("abcdef", 6)).toBe("abcdef");
    expect(fitWidth("abcdef", 4)).toBe("abc…");
    expect(fitWidth("██████", 3)).toBe("██…");
  });

  test("durations", () => {
    expect(formatDuration(5)).toBe("5s");
    expect(formatDuration(65)).toBe("1m05s");
    expect(formatDuration(3720)).toBe("1h02m");
    expect(formatDuration(NaN)).toBe("?");
  });
});
