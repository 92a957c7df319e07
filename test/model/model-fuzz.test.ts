/**
 * Fuzz: seeded mutations of a saved tiny model (safetensors bytes, half aimed at the header; config.json
 * bytes; config fields set to hostile values) plus the config reproducers of issue 12, loaded in child
 * processes under a time limit and an address-space limit of 1 GB beyond a process with the native binary loaded (fuzz-runner.ts). Every case must be refused with an error naming
 * the folder or a file in it, or load exactly what the file holds: no signal, no hang, no other error.
 */
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { saveModel, createModel } from "../../src/model/checkpoint";
import { runFuzz } from "../fuzz-runner";
import { tinyConfig } from "./fixtures";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { randomCases, rng } = require("../data/arrow-fuzz-cases.js") as {
  randomCases(bytes: Buffer, seed: number, count: number, firstId: number, ranges: [number, number][]): { id: number }[];
  rng(seed: number): { next(): number; below(n: number): number };
};

const SAFETENSORS_CASES = 90;
const CONFIG_BYTE_CASES = 20;
const CONFIG_FIELD_CASES = 40;
const CHILDREN = 2;
const CHILD_TIME_LIMIT_MS = 50_000;
const FIELDS = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings", "model_type"];
const VALUES: unknown[] = [0, -1, 1, 2.5, 3, 1e6, 1e9, 4e6, 1e308, -1e308, null, "x", true, [], {}, "qwen3"];

describe("model folder fuzz", () => {
  const scratch = mkdtempSync(join(tmpdir(), "sdpo-model-fuzz-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("seeded mutations of a saved tiny model: no signal, hang, unclear error or silent change", async () => {
    const seed = Number(process.env.SDPO_FUZZ_SEED ?? 12);
    const source = join(scratch, "tiny");
    const model = createModel(tinyConfig(), { seed: 5 });
    await saveModel(model, source);
    model.native.dispose();
    const weights = readFileSync(join(source, "model.safetensors"));
    const config = readFileSync(join(source, "config.json"));
    const header = 8 + Number(weights.readBigUInt64LE(0));
    const r = rng(seed);
    const cases = [
      { id: 0, file: "config.json", kind: "json", field: "num_hidden_layers", value: 1e6, fixed: true },
      { id: 1, file: "config.json", kind: "json", field: "vocab_size", value: 4e6, fixed: true },
      { id: 2, file: "config.json", kind: "json", field: "intermediate_size", value: 3e6, fixed: true },
      ...randomCases(weights, seed, SAFETENSORS_CASES, 100, [[0, header]]).map((c) => ({ ...c, file: "model.safetensors" })),
      ...randomCases(config, seed + 1, CONFIG_BYTE_CASES, 300, [[0, config.length]]).map((c) => ({ ...c, file: "config.json" })),
      ...Array.from({ length: CONFIG_FIELD_CASES }, (_, i) => ({
        id: 400 + i,
        file: "config.json",
        kind: "json",
        field: FIELDS[r.below(FIELDS.length)],
        value: VALUES[r.below(VALUES.length)],
      })),
    ];
    const { outcomes, failures } = await runFuzz(join(__dirname, "model-fuzz-child.js"), [source, scratch], cases, CHILDREN, CHILD_TIME_LIMIT_MS);
    const problems = [...failures];
    for (const spec of cases) {
      const line = outcomes.get(spec.id);
      if (!line) continue; // counted above as the hang or crash that stopped its child
      if (line.outcome === "unclear") problems.push(`case ${JSON.stringify(spec)}: an error naming no file: ${line.message}`);
      if (line.outcome === "inconsistent") problems.push(`case ${JSON.stringify(spec)}: loaded something else than the file holds: ${line.message}`);
      if ("fixed" in spec && line.outcome !== "refused") problems.push(`reproducer ${JSON.stringify(spec)}: ${line.outcome}`);
    }
    expect(problems).toEqual([]);
    expect(outcomes.size).toBe(cases.length);
    expect([...outcomes.values()].filter((l) => l.outcome === "refused").length).toBeGreaterThan(cases.length * 0.5);
  });
});
