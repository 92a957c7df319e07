/**
 * Fuzz: seeded mutations of the shipped valid.arrow (bytes, int32 fields, truncations; half aimed at the
 * footer and the message headers) plus the reproducers of issue 12, read in child processes under a time
 * and a 3 GB address-space limit. Every case must end in a DataError or be accepted with decoded data that a
 * slow reference check finds consistent (a value change no format can see): no signal, no hang, no other
 * error, no accepted structural corruption. SDPO_FUZZ_SEED picks another seed (default 12).
 */
import { spawn } from "child_process";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { randomCases, reproducerCases } = require("./arrow-fuzz-cases.js") as {
  randomCases(bytes: Buffer, seed: number, count: number, firstId?: number): { id: number }[];
  reproducerCases(firstId: number): { id: number; fixed: true }[];
};

const SOURCE = "datasets/lastfm/valid.arrow";
const RANDOM_CASES = 330;
const CHILDREN = 2;
const CHILD_TIME_LIMIT_MS = 50_000;
const ADDRESS_SPACE_KB = 3_000_000;

interface CaseLine {
  id: number;
  start?: boolean;
  outcome?: "refused" | "accepted" | "unclear" | "inconsistent";
  message?: string;
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  lines: CaseLine[];
  stderr: string;
}

function runChild(cases: object[], scratch: string): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(
      "sh",
      ["-c", `ulimit -v ${ADDRESS_SPACE_KB} && exec "$0" "$@"`, process.execPath, join(__dirname, "arrow-fuzz-child.js"), SOURCE, scratch, JSON.stringify(cases)],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, CHILD_TIME_LIMIT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines = stdout
        .split("\n")
        .filter((l) => l.trim().length > 0)
        .map((l) => JSON.parse(l) as CaseLine);
      resolve({ code, signal: timedOut ? null : signal, timedOut, lines, stderr });
    });
  });
}

describe("Arrow fuzz", () => {
  const scratch = mkdtempSync(join(tmpdir(), "sdpo-arrow-fuzz-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it(`${RANDOM_CASES} seeded mutations and the issue's reproducers: no signal, hang or accepted corruption`, async () => {
    const seed = Number(process.env.SDPO_FUZZ_SEED ?? 12);
    const bytes = readFileSync(SOURCE);
    const cases = [...reproducerCases(0), ...randomCases(bytes, seed, RANDOM_CASES, 100)];
    const shares = Array.from({ length: CHILDREN }, (_, c) => cases.filter((_, i) => i % CHILDREN === c));
    const results = await Promise.all(shares.map((share) => runChild(share, scratch)));

    const outcomes = new Map<number, CaseLine>();
    const problems: string[] = [];
    for (const result of results) {
      for (const line of result.lines) if (line.outcome) outcomes.set(line.id, line);
      const started = result.lines.filter((l) => l.start).map((l) => l.id);
      const stuck = started.find((id) => !outcomes.has(id));
      if (result.timedOut) problems.push(`hang: a child ran past ${CHILD_TIME_LIMIT_MS} ms in case ${stuck}`);
      else if (result.signal) problems.push(`signal ${result.signal} in case ${stuck}: ${result.stderr.slice(-500)}`);
      else if (result.code !== 0) problems.push(`exit ${result.code} in case ${stuck}: ${result.stderr.slice(-500)}`);
    }
    for (const spec of cases) {
      const line = outcomes.get(spec.id);
      if (!line) continue; // counted above as the hang or crash that stopped its child
      if (line.outcome === "unclear") problems.push(`case ${spec.id} (${JSON.stringify(spec)}): not a DataError: ${line.message}`);
      if (line.outcome === "inconsistent") problems.push(`case ${spec.id} (${JSON.stringify(spec)}): accepted a broken structure: ${line.message}`);
      if ("fixed" in spec && line.outcome !== "refused") problems.push(`reproducer ${spec.id} (${JSON.stringify(spec)}): ${line.outcome}`);
    }
    expect(problems).toEqual([]);
    expect(outcomes.size).toBe(cases.length);
    const refused = [...outcomes.values()].filter((l) => l.outcome === "refused");
    // Most mutations land in the footer, the headers or the token ids, where they must be caught.
    expect(refused.length).toBeGreaterThan(cases.length * 0.6);
    for (const line of refused) expect(line.message).toMatch(/^\S*case-\d+\.arrow: /);
  });
});
