/**
 * Model folders an adversary could hand over (issue 12): a FIFO where a file should be, config sizes that
 * disagree with the checkpoint (refused before anything is allocated), NaN/infinite weights.
 */
import { execFileSync, spawnSync } from "child_process";
import { promises as fsp } from "fs";
import * as os from "os";
import * as path from "path";
import { createModel, loadModel, saveModel } from "../../src/model/checkpoint";
import { firstNonFinite } from "../../src/model/finite";
import { parameterCount, parameterShapes } from "../../src/model/parameter-shapes";
import { readSafetensors, writeSafetensors } from "../../src/model/safetensors";
import type { NativeModelConfig } from "../../src/native";
import { rejectionOf } from "../helpers";
import { tinyConfig } from "./fixtures";

let root: string;
let saved: string;
beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), "sdpo-hostile-"));
  saved = path.join(root, "tiny");
  const model = createModel(tinyConfig(), { seed: 3 });
  await saveModel(model, saved);
  model.native.dispose();
});
afterAll(() => fsp.rm(root, { recursive: true, force: true }));

/** A copy of the saved tiny model with config.json fields replaced. */
async function withConfig(name: string, edit: Record<string, unknown>): Promise<string> {
  const dir = path.join(root, name);
  await fsp.cp(saved, dir, { recursive: true });
  const config = JSON.parse(await fsp.readFile(path.join(dir, "config.json"), "utf8"));
  await fsp.writeFile(path.join(dir, "config.json"), JSON.stringify({ ...config, ...edit }));
  return dir;
}

describe("parameter shapes from a config", () => {
  test.each<[string, Partial<NativeModelConfig>]>([
    ["llama", {}],
    ["llama with attention bias and tied head", { attention_bias: true, tie_word_embeddings: true }],
    ["qwen2", { model_type: "qwen2", attention_bias: true }],
    ["qwen3", { model_type: "qwen3", qk_norm: true, head_dim: 8 }],
    ["mistral", { model_type: "mistral", sliding_window: 64 }],
  ])("match the native model's parameters: %s", (_, overrides) => {
    const config = tinyConfig(overrides);
    const model = createModel(config);
    try {
      const native = model.native.parameterInfo().filter((p) => !p.isAdapter);
      expect([...parameterShapes(config)]).toEqual(native.map((p) => [p.name, p.shape]));
      expect(parameterCount(config)).toBe(native.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
    } finally {
      model.native.dispose();
    }
  });
});

describe("hostile model folders", () => {
  test("a FIFO in place of model.safetensors or config.json is refused, not waited on", async () => {
    for (const file of ["model.safetensors", "config.json"]) {
      const dir = path.join(root, `fifo-${file}`);
      await fsp.cp(saved, dir, { recursive: true });
      await fsp.rm(path.join(dir, file));
      execFileSync("mkfifo", [path.join(dir, file)]);
      const started = Date.now();
      const err = await rejectionOf(loadModel(dir));
      expect(err.message).toBe(`${path.join(dir, file)}: is a FIFO, not a regular file`);
      expect(Date.now() - started).toBeLessThan(5000);
    }
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    ["num_hidden_layers 1e6", { num_hidden_layers: 1e6 }, /config\.json describes .* parameters .*more than the machine's|says num_hidden_layers 1000000, the checkpoint holds 2 layers/],
    ["num_hidden_layers 3", { num_hidden_layers: 3 }, /config\.json says num_hidden_layers 3, the checkpoint holds 2 layers/],
    ["vocab_size 4e6", { vocab_size: 4e6 }, /model\.safetensors: tensor "model\.embed_tokens\.weight" has shape \[37,16\] but .*config\.json \(vocab_size, hidden_size\) implies \[4000000,16\]/],
    ["intermediate_size 3e6", { intermediate_size: 3e6 }, /tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[24,16\] but .*config\.json \(intermediate_size, hidden_size\) implies \[3000000,16\]/],
    ["hidden_size 1e9", { hidden_size: 1e9, head_dim: 4 }, /describes .* parameters \(.* GiB\), more than the machine's/],
  ])("config %s is held to the checkpoint before any allocation", async (name, edit, message) => {
    const dir = await withConfig(`config-${name.replace(/\W+/g, "-")}`, edit);
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const err = await rejectionOf(loadModel(dir));
    expect(err.message).toMatch(message);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 2 ** 20);
  });

  // Under AddressSanitizer (npm run test:asan) the process reserves terabytes of shadow address space, which no
  // 3 GB limit holds; the fuzz tests size their limit from a loaded process instead and still run there.
  const underAsan = /libasan/.test(process.env.LD_PRELOAD ?? "");
  (underAsan ? test.skip : test)("the same refusals end within 30 s under a 3 GB address-space limit (nothing large is allocated)", async () => {
    const dirs = [
      await withConfig("ulimit-layers", { num_hidden_layers: 1e6 }),
      await withConfig("ulimit-vocab", { vocab_size: 4e6 }),
      await withConfig("ulimit-ffn", { intermediate_size: 3e6 }),
    ];
    const script = `
      const { loadModel } = require(${JSON.stringify(path.resolve(__dirname, "../../src/model/checkpoint.ts"))});
      (async () => {
        for (const dir of ${JSON.stringify(dirs)}) {
          try { (await loadModel(dir)).native.dispose(); console.log("LOADED"); }
          catch (err) { console.log("REFUSED " + err.message.split("\\n")[0]); }
        }
      })();`;
    const run = spawnSync("sh", ["-c", 'ulimit -v 3000000 && exec "$0" -r "$1" -e "$2"', process.execPath, path.resolve(__dirname, "../ts-register.js"), script], {
      encoding: "utf8",
      timeout: 30000,
    });
    expect(run.signal).toBeNull();
    expect(run.stderr).toBe("");
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^REFUSED .*(config\.json|model\.safetensors)/);
  });

  test("an adapter_config.json rank the adapter tensors do not hold is refused before adapters are allocated", async () => {
    const dir = path.join(root, "adapter");
    const model = await loadModel(saved, { lora: { rank: 2 } });
    await saveModel(model, dir, { adapterOnly: true });
    model.native.dispose();
    const again = await loadModel(dir, { baseModel: saved });
    again.native.dispose();
    const configFile = path.join(dir, "adapter_config.json");
    const config = JSON.parse(await fsp.readFile(configFile, "utf8"));
    await fsp.writeFile(configFile, JSON.stringify({ ...config, r: 1e9 }));
    const started = Date.now();
    const err = await rejectionOf(loadModel(dir, { baseModel: saved }));
    expect(err.message).toMatch(/adapter_model\.safetensors: tensor "base_model\.model\..*\.lora_[AB]\.weight" has shape \[\d+,\d+\], not the rank 1000000000 \("r"\) of .*adapter_config\.json/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test("non-finite weights are refused by default, naming tensor and element, and load with allowNonFinite", async () => {
    const dir = path.join(root, "nan");
    await fsp.cp(saved, dir, { recursive: true });
    const file = path.join(dir, "model.safetensors");
    const { tensors, metadata } = await readSafetensors(file);
    const norm = tensors.find((t) => t.name === "model.norm.weight")!;
    new DataView(norm.data.buffer, norm.data.byteOffset).setFloat32(4 * 5, NaN, true);
    await writeSafetensors(file, tensors, metadata);
    const err = await rejectionOf(loadModel(dir));
    expect(err.message).toBe(
      `${file}: tensor "model.norm.weight" holds a non-finite value (NaN or infinity) at element 5; a model with it scores NaN. ` +
        "Pass allowNonFinite: true (sdpo train --allow-non-finite-weights) to load it anyway",
    );
    const model = await loadModel(dir, { allowNonFinite: true });
    model.native.dispose();
  });

  test("firstNonFinite finds NaN and infinities in every float format, by bits", () => {
    const f64 = new Float64Array([1, -0, 1e308, Infinity]);
    expect(firstNonFinite("F64", new Uint8Array(f64.buffer))).toBe(3);
    const f32 = new Float32Array([3e38, -3e38, 0, -Infinity]);
    expect(firstNonFinite("F32", new Uint8Array(f32.buffer))).toBe(3);
    expect(firstNonFinite("F32", new Uint8Array(new Float32Array([1, 2]).buffer))).toBe(-1);
    // f16: 0x7bff = 65504 (largest finite), 0x7c00 = +inf, 0x7e00 = NaN; bf16: 0x7f7f finite, 0xff80 = -inf.
    expect(firstNonFinite("F16", new Uint8Array(new Uint16Array([0x7bff, 0xfbff, 0x7e00]).buffer))).toBe(2);
    expect(firstNonFinite("BF16", new Uint8Array(new Uint16Array([0x7f7f, 0x3f80, 0xff80]).buffer))).toBe(2);
    expect(firstNonFinite("I32", new Uint8Array(new Int32Array([-1]).buffer))).toBe(-1);
  });
});
