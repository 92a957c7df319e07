/**
 * The torch thread against the rest of the process: a fork() while a step runs (OpenBLAS shuts its thread
 * pool down before every fork) and a worker thread terminated mid-step (its environment, and the thread-safe
 * function of its call, end before the call does). Each scenario runs in a child process with a time limit,
 * since the failure it guards against is a hang or an abort.
 */
import { spawnSync } from "child_process";
import { nativeLoadReport } from "../src/native";

const binary = nativeLoadReport().binary;
const linux = process.platform === "linux";

// A model and batch big enough that OpenBLAS splits the products across its threads (the hang needs that).
const setup = `
const addon = require(${JSON.stringify(binary)});
function makeTrainer() {
  const config = { model_type: "llama", vocab_size: 512, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 4, head_dim: 64, max_position_embeddings: 512, rms_norm_eps: 1e-6,
    rope_theta: 10000, rope_scaling: null, tie_word_embeddings: false, attention_bias: false, qk_norm: false };
  const model = new addon.Model(config, { device: "cpu", dtype: "float32" });
  const trainer = new addon.Trainer(model, { loss: "sdpo", referenceMode: "frozen-copy" });
  const B = 4, K = 3, Lp = 160, Lr = 6;
  const promptIds = new Int32Array(B * Lp).map((_, i) => 1 + (i * 7) % 500);
  const promptOffsets = Int32Array.from({ length: B + 1 }, (_, i) => i * Lp);
  const R = B * (1 + K);
  const responseIds = new Int32Array(R * Lr).map((_, i) => 1 + (i * 13) % 500);
  const responseOffsets = Int32Array.from({ length: R + 1 }, (_, i) => i * Lr);
  const responsePrompt = Int32Array.from({ length: R }, (_, r) => Math.floor(r / (1 + K)));
  const chosenIndex = Int32Array.from({ length: B }, (_, b) => b * (1 + K));
  const rejectedIndex = Int32Array.from({ length: B * K }, (_, i) => Math.floor(i / K) * (1 + K) + 1 + (i % K));
  const batch = { promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt, chosenIndex, rejectedIndex };
  return { model, trainer, step: () => trainer.step(batch, { learningRate: 1e-5, optimizerStep: true, weight: 1 }) };
}
`;

function runChild(script: string, timeoutMs: number) {
  return spawnSync(process.execPath, ["-e", setup + script], { encoding: "utf8", timeout: timeoutMs });
}

(linux ? describe : describe.skip)("the torch thread and the rest of the process", () => {
  test("fork() (spawnSync) while steps run: every step finishes, no hang", () => {
    const result = runChild(
      `
const { execFileSync } = require("child_process");
(async () => {
  const { step } = makeTrainer();
  let forks = 0;
  const timer = setInterval(() => { execFileSync("true"); forks++; }, 5);
  for (let i = 0; i < 8; i++) await step();
  clearInterval(timer);
  console.log("steps done, forks " + forks);
})();`,
      90_000
    );
    expect(result.error).toBeUndefined(); // ETIMEDOUT here is the hang
    expect(result.status).toBe(0);
    const forks = Number(/steps done, forks (\d+)/.exec(result.stdout)?.[1]);
    expect(forks).toBeGreaterThan(2); // the forks did interleave with the steps
  }, 100_000);

  test("a worker thread terminated mid-step: the process carries on and its own calls still work", () => {
    const result = runChild(
      `
const { Worker } = require("worker_threads");
(async () => {
  const main = makeTrainer();
  await main.step();
  for (let i = 0; i < 2; i++) {
    const w = new Worker(${"`"}\${setupSource}
      (async () => { const { step } = makeTrainer(); require("worker_threads").parentPort.postMessage("ready");
        for (;;) { step(); await step(); } })();${"`"}, { eval: true });
    await new Promise((r) => w.once("message", r));
    await new Promise((r) => setTimeout(r, 300));
    await w.terminate();
  }
  const stats = await main.step();
  console.log("main step after terminations: " + Number.isFinite(stats.loss));
})();`.replace("${setupSource}", setup.replace(/`/g, "\\`").replace(/\$\{/g, "\\${")),
      90_000
    );
    expect(result.error).toBeUndefined();
    expect(result.stderr).not.toMatch(/Abort|Assertion/);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/main step after terminations: true/);
  }, 100_000);
});
