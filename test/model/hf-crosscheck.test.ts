/**
 * The native decoder against an independent float64 PyTorch re-implementation of Hugging Face's
 * forward (test/model/hf_reference.py). Needs a python3 with torch (transformers not needed):
 * SDPO_PYTHON, else /usr/bin/python3, else python3; skipped, saying so, where none has torch.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { NativeModelConfig } from "../../src/native";
import { makeModel, maxAbsDiff, mixedBatch, randomizeParameters, tensorValues, tinyConfig } from "./fixtures";

function pythonWithTorch(): string | undefined {
  for (const candidate of [process.env.SDPO_PYTHON, "/usr/bin/python3", "python3"]) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ["-c", "import torch"], { encoding: "utf8" });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const python = pythonWithTorch();
const maybe = python ? test : test.skip;
if (!python) console.warn("hf-crosscheck: no python3 with torch found, skipping (set SDPO_PYTHON)");

const cases: [string, Partial<NativeModelConfig>][] = [
  ["llama GQA, untied", {}],
  ["qwen2 bias, tied", { model_type: "qwen2", attention_bias: true, tie_word_embeddings: true }],
  ["qwen3 q/k norm", { model_type: "qwen3", qk_norm: true, head_dim: 8 }],
  [
    "llama3 rope scaling",
    {
      head_dim: 8,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
    },
  ],
];

describe("Hugging Face conventions (independent PyTorch reference)", () => {
  for (const [name, overrides] of cases) {
    maybe(`${name}: shared-prefix scores match to 1e-10`, async () => {
      const config = tinyConfig(overrides);
      const model = makeModel(config, "float64", 3);
      randomizeParameters(model, 11);
      const batch = mixedBatch(config.vocab_size);
      const { logps } = await model.score(batch);
      const params: Record<string, { shape: number[]; values: number[] }> = {};
      for (const p of model.parameterInfo()) params[p.name] = { shape: p.shape, values: Array.from(tensorValues(model, p.name)) };
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-hf-"));
      const file = path.join(dir, "case.json");
      const plainBatch = Object.fromEntries(Object.entries(batch).map(([k, v]) => [k, Array.from(v as Int32Array)]));
      fs.writeFileSync(file, JSON.stringify({ config, params, batch: plainBatch }));
      const run = spawnSync(python!, [path.join(__dirname, "hf_reference.py"), file], { encoding: "utf8" });
      fs.rmSync(dir, { recursive: true, force: true });
      if (run.status !== 0) throw new Error(`hf_reference.py failed: ${run.stderr}`);
      const expected = JSON.parse(run.stdout).logps as number[];
      expect(maxAbsDiff(logps, expected)).toBeLessThan(1e-10);
      model.dispose();
    });
  }
});
