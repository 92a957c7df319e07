/**
 * Visible progress for long work: a one-line bar on a TTY, plain lines otherwise (CI logs, pipes: one every 10%
 * of the work or every 30 s, whichever comes first), both on stderr by default so `--json` output on stdout
 * stays clean. The bar is drawn with a carriage return and kept within the terminal's width (cut, never
 * wrapped); lines logged while it is shown go above it at once, and stop() leaves the last state on screen.
 */
import { subscribe, type TrainerEventSource } from "./events";

export interface ProgressOptions {
  /** Shown before the bar, e.g. "sft" or "eval". */
  label?: string;
  /** Units of `total`, e.g. "steps" or "rows". */
  unit?: string;
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Force bar (true) or plain lines (false); default: whether the stream is a TTY. */
  tty?: boolean;
  /** Plain mode: a line at least this often while work goes on (plus the first and the last). Default 30. */
  intervalSeconds?: number;
  /** Plain mode: also a line each time another this-many percent of `total` is done (0: off). Default 10. */
  everyPercent?: number;
}

export interface Progress {
  /** Sets the current value and the free-form status fields shown after it; `elapsedSeconds`: the
   *  work's own clock (e.g. a trainer's, which started before the first event), for the ETA. */
  update(value: number, status?: string, elapsedSeconds?: number): void;
  /** Prints a line above the bar (or as a plain line). */
  log(line: string): void;
  /** Final render; the bar is left on screen. Idempotent. */
  stop(): void;
}

/** `text` cut to `width` characters (code points), the last one an ellipsis when cut. */
export function fitWidth(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return width <= 0 ? "" : chars.slice(0, width - 1).join("") + "…";
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/** Seconds left if the rest goes at the average rate so far. */
function eta(value: number, total: number | undefined, elapsed: number): string {
  if (!total || value <= 0 || value >= total) return value >= (total ?? Infinity) ? "0s" : "?";
  return formatDuration((elapsed / value) * (total - value));
}

export function createProgress(total: number | undefined, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean((stream as NodeJS.WriteStream).isTTY);
  const label = options.label ?? "";
  const unit = options.unit ?? "";
  const interval = (options.intervalSeconds ?? 30) * 1000;
  const everyPercent = options.everyPercent ?? 10;
  let started = Date.now();
  let value = 0;
  let status = "";
  let stopped = false;
  const elapsed = (): number => (Date.now() - started) / 1000;
  const setClock = (seconds: number | undefined): void => {
    if (seconds !== undefined && Number.isFinite(seconds)) started = Date.now() - seconds * 1000;
  };
  const counter = (): string => (total ? `${value}/${total}${unit ? " " + unit : ""}` : `${value}${unit ? " " + unit : ""}`);

  if (tty) {
    // One column short of the width: writing the last column leaves some terminals waiting to wrap.
    const width = (): number => Math.max(20, ((stream as NodeJS.WriteStream).columns || 80) - 1);
    const render = (): string => {
      const barWidth = 20;
      const fraction = total ? Math.min(1, value / total) : 0;
      const filled = Math.round(fraction * barWidth);
      const bar = total ? `|${"█".repeat(filled)}${"░".repeat(barWidth - filled)}| ${(fraction * 100).toFixed(0).padStart(3)}% ` : "";
      // ETA first after the counter: the line is cut at the terminal's width.
      return `${label ? label + " " : ""}${bar}${counter()} | ETA ${eta(value, total, elapsed())}${status ? " | " + status : ""} | ${formatDuration(elapsed())} elapsed`;
    };
    let lastDraw = 0;
    const draw = (force: boolean): void => {
      const now = Date.now();
      if (!force && now - lastDraw < 200) return; // at most 5 redraws a second
      lastDraw = now;
      stream.write(`\r${fitWidth(render(), width())}\x1b[K`);
    };
    draw(true);
    lastDraw = 0; // the first update is drawn at once
    return {
      update(v, s, seconds) {
        value = v;
        if (s !== undefined) status = s;
        setClock(seconds);
        if (!stopped) draw(false);
      },
      log(line) {
        if (stopped) return void stream.write(line + "\n");
        // Over the bar's line, then the bar again below it: logged lines are never held back or cut.
        stream.write(`\r\x1b[K${line}\n`);
        draw(true);
      },
      stop() {
        if (stopped) return;
        draw(true);
        stream.write("\n");
        stopped = true;
      },
    };
  }

  let lastLine = 0;
  let lastPrinted = -1;
  /** Which share of the work (in everyPercent steps) `v` is in. */
  const bucket = (v: number): number => (total && everyPercent > 0 ? Math.floor((100 * v) / total / everyPercent) : 0);
  let lastBucket = 0;
  let updated = false;
  const print = (): void => {
    lastLine = Date.now();
    lastPrinted = value;
    lastBucket = bucket(value);
    const pct = total ? ` (${Math.floor((100 * value) / total)}%)` : "";
    stream.write(`${label ? label + ": " : ""}${counter()}${pct}${status ? " | " + status : ""} | ${formatDuration(elapsed())} elapsed, ETA ${eta(value, total, elapsed())}\n`);
  };
  return {
    update(v, s, seconds) {
      value = v;
      updated = true;
      if (s !== undefined) status = s;
      setClock(seconds);
      if (stopped) return;
      if (Date.now() - lastLine >= interval || bucket(v) > lastBucket || (total !== undefined && v >= total && lastPrinted !== v)) print();
    },
    log(line) {
      stream.write(line + "\n");
    },
    stop() {
      if (stopped) return;
      if (lastPrinted !== value && updated) print(); // the last state, unless already shown (or never set)
      stopped = true;
    },
  };
}

function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

/**
 * Shows a trainer's progress: epoch, step, loss, examples/s and ETA on a bar (TTY) or in periodic lines;
 * eval and checkpoint events are printed as lines. `total`: optimizer steps of the whole fit (default:
 * each step event's totalSteps). Call stop() when fit() returns.
 */
export function attachProgress(
  trainer: TrainerEventSource,
  options: ProgressOptions & { total?: number } = {}
): Progress & { detach(): void } {
  let progress: Progress | undefined;
  const ensure = (total?: number): Progress => (progress ??= createProgress(options.total ?? total, { unit: "steps", ...options }));
  const detach = subscribe(trainer, {
    step: (e) =>
      ensure(e.totalSteps).update(
        e.step,
        `epoch ${e.epoch.toFixed(2)} | loss ${fmt(e.loss)} | ${e.examplesPerSecond.toFixed(1)} ex/s`,
        e.elapsedSeconds
      ),
    // SFT has no reference, so no rewards: its eval line gives the loss alone.
    eval: (e) =>
      ensure().log(
        `${options.label ? options.label + " " : ""}eval @ step ${e.step}: loss ${fmt(e.loss)}` +
          (Number.isFinite(e.chosenReward) ? `, chosen reward ${fmt(e.chosenReward)}, reward accuracy ${fmt(e.rewardAccuracy, 3)}` : "") +
          ` (${e.rows} rows)`
      ),
    checkpoint: (e) => ensure().log(`${options.label ? options.label + " " : ""}checkpoint @ step ${e.step}: ${e.path}`),
  });
  return {
    update: (v, s, seconds) => ensure().update(v, s, seconds),
    log: (line) => ensure().log(line),
    stop: () => progress?.stop(),
    detach,
  };
}
