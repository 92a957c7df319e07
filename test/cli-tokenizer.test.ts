/**
 * `sdpo tokenizer train` as a process: stdout holds its one report line (the Rust trainer's line feeds, written
 * to file descriptor 1, used to come first), and that line gives the ids the written file really has.
 */
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";

const root = resolve(__dirname, "..");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sdpo-tokenizer-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI from the sources (swc), as the bin would, capturing stdout and stderr apart. */
function sdpo(argv: string[]) {
  return spawnSync(process.execPath, ["-r", join(root, "test", "ts-register.js"), join(root, "src", "cli", "main.ts"), ...argv], {
    cwd: root,
    encoding: "utf8",
    timeout: 60000,
  });
}

describe("sdpo tokenizer train", () => {
  test("on 30 LastFM rows: one stdout line, no blank lines, giving the ids the file holds (not the 4096 asked for)", () => {
    const rows = JSON.parse(readFileSync(join(root, "datasets", "lastfm", "lastfm-val.json"), "utf8")).slice(0, 30);
    const input = join(dir, "rows.json");
    writeFileSync(input, JSON.stringify(rows));
    const output = join(dir, "tokenizer.json");
    const run = sdpo(["tokenizer", "train", "--input", input, "--output", output]);
    expect(run.status).toBe(0);
    const written = JSON.parse(readFileSync(output, "utf8")) as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
    const ids = new Set([...Object.values(written.model.vocab), ...written.added_tokens.map((t) => t.id)]);
    expect(Math.max(...ids) + 1).toBe(ids.size); // dense: the count is the vocabulary size
    expect(ids.size).toBeLessThan(4096);
    expect(run.stdout).toBe(`${output}: byte-level BPE, ${ids.size} ids (4096 asked for: the texts hold no more merges), from 30 texts\n`);
  });
});
