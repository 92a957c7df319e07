/**
 * Visible progress for long work: a cli-progress bar on a TTY, plain periodic lines otherwise (CI logs,
 * pipes), both on stderr by default so `--json` output on stdout stays clean.
 */
import { MultiBar, type SingleBar } from "cli-progress";
import { subscribe, type TrainerEventSource } from "./events";

export interface ProgressOptions {
  /** Shown before the bar, e.g. "sft" or "eval". */
  label?: string;
  /** Units of `total`, e.g. "steps" or "rows". */
  unit?: string;
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Force bar (true) or plain lines (false); default: whether the stream is a TTY. */
  tty?: boolean;
  /** Plain mode: at most one line per this many seconds (plus the last one). Default 10. */
  intervalSeconds?: number;
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
  const interval = (options.intervalSeconds ?? 10) * 1000;
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
    const multi = new MultiBar({
      stream,
      format: (_o, _p, payload: { text: string }) => payload.text,
      hideCursor: null,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 5,
    });
    const render = (): string => {
      const width = 20;
      const fraction = total ? Math.min(1, value / total) : 0;
      const filled = Math.round(fraction * width);
      const bar = total ? `|${"█".repeat(filled)}${"░".repeat(width - filled)}| ${(fraction * 100).toFixed(0).padStart(3)}% ` : "";
      // ETA first after the counter: cli-progress cuts the line at the terminal's width.
      return `${label ? label + " " : ""}${bar}${counter()} | ETA ${eta(value, total, elapsed())}${status ? " | " + status : ""} | ${formatDuration(elapsed())} elapsed`;
    };
    const bar: SingleBar = multi.create(total ?? 1, 0, { text: render() });
    return {
      update(v, s, seconds) {
        value = v;
        if (s !== undefined) status = s;
        setClock(seconds);
        if (!stopped) bar.update(Math.min(v, total ?? 1), { text: render() });
      },
      log(line) {
        if (stopped) stream.write(line + "\n");
        else multi.log(line + "\n");
      },
      stop() {
        if (stopped) return;
        bar.update(Math.min(value, total ?? 1), { text: render() });
        multi.stop();
        stopped = true;
      },
    };
  }

  let lastLine = 0;
  let lastPrinted = -1;
  const print = (): void => {
    lastLine = Date.now();
    lastPrinted = value;
    const pct = total ? ` (${Math.floor((100 * value) / total)}%)` : "";
    stream.write(`${label ? label + ": " : ""}${counter()}${pct}${status ? " | " + status : ""} | ${formatDuration(elapsed())} elapsed, ETA ${eta(value, total, elapsed())}\n`);
  };
  return {
    update(v, s, seconds) {
      value = v;
      if (s !== undefined) status = s;
      setClock(seconds);
      if (stopped) return;
      if (Date.now() - lastLine >= interval || (total !== undefined && v >= total && lastPrinted !== v)) print();
    },
    log(line) {
      stream.write(line + "\n");
    },
    stop() {
      if (stopped) return;
      if (lastPrinted !== value) print(); // the last state, unless already shown
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
    eval: (e) =>
      ensure().log(
        `${options.label ? options.label + " " : ""}eval @ step ${e.step}: loss ${fmt(e.loss)}, chosen reward ${fmt(e.chosenReward)}, reward accuracy ${fmt(e.rewardAccuracy, 3)} (${e.rows} rows)`
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
