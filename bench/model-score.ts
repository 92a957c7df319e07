/**
 * Shared-prefix scoring vs the plain path (forward, and forward + backward through LoRA), and KV-cache generation vs a full forward per token (every prompt+response run separately, full-vocabulary
 * log_softmax), S-DPO-shaped batches: P prompts, 1 chosen + K rejected responses each.
 *   npm run build:ts && node dist/bench/model-score.js [--dtype float32] [--threads 2]
 */
import { native, type ModelDType, type NativeModelConfig } from "../src/native";
import { modelTestHooks } from "../src/native/test-hooks";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const dtype = arg("dtype", "float32") as ModelDType;
  native().setNumThreads(Number(arg("threads", "2")));
  const config: NativeModelConfig = {
    model_type: "qwen2",
    vocab_size: Number(arg("vocab", "8000")),
    hidden_size: 256,
    intermediate_size: 704,
    num_hidden_layers: 4,
    num_attention_heads: 8,
    num_key_value_heads: 2,
    head_dim: 32,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-6,
    rope_theta: 1e6,
    rope_scaling: null,
    tie_word_embeddings: true,
    attention_bias: true,
    qk_norm: false,
  };
  const model = new (native().Model)(config, { device: "cpu", dtype, seed: 1 });
  const P = Number(arg("prompts", "4")), K = Number(arg("negatives", "3"));
  const Lp = Number(arg("prompt-len", "256")), Lr = Number(arg("response-len", "12"));
  let seed = 1;
  const tok = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % config.vocab_size;
  const promptIds = Int32Array.from({ length: P * Lp }, tok);
  const promptOffsets = Int32Array.from({ length: P + 1 }, (_, i) => i * Lp);
  const R = P * (K + 1);
  const responseIds = Int32Array.from({ length: R * Lr }, tok);
  const responseOffsets = Int32Array.from({ length: R + 1 }, (_, i) => i * Lr);
  const responsePrompt = Int32Array.from({ length: R }, (_, r) => Math.floor(r / (K + 1)));
  const batch = { promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt };

  const time = async (plainKernels: boolean, reps: number) => {
    await modelTestHooks(model).score(batch, { plainKernels }); // warm-up
    const t0 = process.hrtime.bigint();
    let out;
    for (let i = 0; i < reps; i++) out = await modelTestHooks(model).score(batch, { plainKernels });
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6 / reps, logps: out!.logps };
  };
  const fast = await time(false, 3);
  const plain = await time(true, 3);
  let diff = 0;
  for (let r = 0; r < R; r++) diff = Math.max(diff, Math.abs(fast.logps[r] - plain.logps[r]));
  console.log(
    JSON.stringify({ dtype, P, K, Lp, Lr, vocab: config.vocab_size, sharedPrefixMs: +fast.ms.toFixed(1), plainMs: +plain.ms.toFixed(1), speedup: +(plain.ms / fast.ms).toFixed(2), maxAbsDiff: diff })
  );

  // Forward + backward (LoRA rank 16 on every linear layer): d(sum logps)/d(adapters).
  model.addLora({ rank: 16, alpha: 32, dropout: 0, targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] });
  const adapterNames = model.parameterInfo().filter((p) => p.isAdapter).map((p) => p.name);
  const ones = new Float64Array(R).fill(1);
  const timeGrad = async (options: { plainKernels?: boolean; train?: boolean }) => {
    await modelTestHooks(model).scoreGradients(batch, ones, adapterNames, options);
    const t0 = process.hrtime.bigint();
    await modelTestHooks(model).scoreGradients(batch, ones, adapterNames, options);
    return +(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1);
  };
  const gradFast = await timeGrad({});
  const gradPlain = await timeGrad({ plainKernels: true });
  model.setGradientCheckpointing(true);
  const gradCheckpointed = await timeGrad({ train: true });
  model.setGradientCheckpointing(false);
  console.log(JSON.stringify({ backward: { sharedPrefixMs: gradFast, plainMs: gradPlain, speedup: +(gradPlain / gradFast).toFixed(2), checkpointedMs: gradCheckpointed } }));

  // Greedy generation: batched KV cache vs a full forward per token, one prompt at a time.
  const genOptions = { maxNewTokens: Number(arg("new-tokens", "16")), eosTokenId: config.vocab_size - 1 };
  const timeGen = async (plainKernels: boolean) => {
    const t0 = process.hrtime.bigint();
    const out = await modelTestHooks(model).generate(promptIds, promptOffsets, { ...genOptions, plainKernels });
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ids: Array.from(out.ids) };
  };
  await timeGen(false);
  const gen = await timeGen(false);
  const genPlain = await timeGen(true);
  console.log(
    JSON.stringify({ generate: { P, Lp, newTokens: genOptions.maxNewTokens, kvCacheMs: +gen.ms.toFixed(1), plainMs: +genPlain.ms.toFixed(1), speedup: +(genPlain.ms / gen.ms).toFixed(2), sameTokens: JSON.stringify(gen.ids) === JSON.stringify(genPlain.ids) } })
  );
  model.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
