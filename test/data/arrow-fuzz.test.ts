/**
 * Fuzz: seeded mutations of the shipped valid.arrow (bytes, int32 fields, truncations; half aimed at the
 * footer and the message headers) and of the same table in the IPC stream format, plus the reproducers of
 * issue 12, read in child processes under a time limit and an address-space limit of 1 GB beyond a process with the native binary loaded (fuzz-runner.ts). Every case must end in a DataError or be accepted with decoded data that a
 * slow reference check finds consistent (a value change no format can see): no signal, no hang, no other
 * error, no accepted structural corruption. SDPO_FUZZ_SEED picks another seed (default 12).
 */
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { tableFromIPC, tableToIPC } from "apache-arrow";
import { runFuzz } from "../fuzz-runner";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { randomCases, reproducerCases } = require("./arrow-fuzz-cases.js") as {
  randomCases(bytes: Buffer, seed: number, count: number, firstId?: number, ranges?: [number, number][]): { id: number }[];
  reproducerCases(firstId: number): { id: number; fixed: true }[];
};

const SOURCE = "datasets/lastfm/valid.arrow";
const RANDOM_CASES = 330;
const STREAM_CASES = 100;
const CHILDREN = 2;
const CHILD_TIME_LIMIT_MS = 50_000;

describe("Arrow fuzz", () => {
  const scratch = mkdtempSync(join(tmpdir(), "sdpo-arrow-fuzz-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it(`${RANDOM_CASES} seeded mutations of the file, ${STREAM_CASES} of its stream form and the issue's reproducers: no signal, hang or accepted corruption`, async () => {
    const seed = Number(process.env.SDPO_FUZZ_SEED ?? 12);
    const bytes = readFileSync(SOURCE);
    // The same table as an IPC stream: half the mutations aim at its schema message and first batch header.
    const stream = Buffer.from(tableToIPC(tableFromIPC(bytes), "stream"));
    const schemaEnd = 8 + stream.readInt32LE(4);
    const streamRanges: [number, number][] = [[0, schemaEnd], [schemaEnd, schemaEnd + 8 + stream.readInt32LE(schemaEnd + 4)]];
    const cases = [
      ...reproducerCases(0),
      ...randomCases(bytes, seed, RANDOM_CASES, 100),
      ...randomCases(stream, seed + 1, STREAM_CASES, 1000, streamRanges).map((c) => ({ ...c, stream: true })),
    ];
    const { outcomes, failures } = await runFuzz(join(__dirname, "arrow-fuzz-child.js"), [SOURCE, scratch], cases, CHILDREN, CHILD_TIME_LIMIT_MS);
    const problems = [...failures];
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
