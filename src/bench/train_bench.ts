/**
 * Throughput of our S-DPO training step on random token batches with a randomly initialised llama
 * model: the measurement behind `sdpo bench` (compared with bench/reference_sdpo.py by bench/compare.sh).
 */
import { median } from "./measure";
import * as fs from "fs";
import { createModel } from "../model/checkpoint";
import { native, type DeviceName, type NativeModelConfig, type TrainBatchInput } from "../native";
import { modelFlopsPerExample, type BenchShape } from "./model_flops";
import { SeededRng } from "../rng";

export interface TrainBenchOptions extends BenchShape {
  batchSize: number;
  steps: number;
  warmup: number;
  /** Intra-op threads (at::set_num_threads); undefined: the addon's default (SDPO_NUM_THREADS, else 1 over OpenBLAS pthreads, else every core). */
  threads?: number;
  /** 0: full fine-tuning with a frozen reference copy; > 0: LoRA adapters of that rank, reference = adapters off. */
  loraRank: number;
  /** Side of the square fp32 matmul timed for the machine's matmul rate; 0 skips it. */
  matmulSize: number;
  seed: number;
  /** Default "cpu". peakRssMb is host memory either way. */
  device?: DeviceName;
}

export interface TrainBenchResult {
  impl: "softmax-dpo";
  device: DeviceName;
  mode: "full-frozen-copy" | "lora-adapters-off";
  examplesPerSecond: number;
  stepMsMedian: number;
  peakRssMb: number;
  baselineRssMb: number;
  modelFlopsPerSecond: number;
  matmulFlopsPerSecond: number | null;
  flopsFractionOfMatmul: number | null;
  params: number;
  threads: number;
  negatives: number;
  batchSize: number;
  steps: number;
}

/** VmHWM / VmRSS of this process in MiB (Linux), NaN elsewhere. */
export function processMemoryMb(field: "VmHWM" | "VmRSS"): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync("/proc/self/status", "utf8"));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function benchModelConfig(s: BenchShape): NativeModelConfig {
  if (s.dim % s.heads !== 0) throw new RangeError(`bench: --dim ${s.dim} is not divisible by --heads ${s.heads}`);
  if (s.heads % s.kvHeads !== 0) throw new RangeError(`bench: --heads ${s.heads} is not divisible by --kv-heads ${s.kvHeads}`);
  return {
    model_type: "llama",
    vocab_size: s.vocab,
    hidden_size: s.dim,
    intermediate_size: s.ffn,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: s.dim / s.heads,
    max_position_embeddings: Math.max(2048, s.promptLen + s.respLen),
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    rope_scaling: null,
    tie_word_embeddings: false,
    attention_bias: false,
    qk_norm: false,
  };
}

/** B prompts of Lp random tokens, each with 1 + K responses of Lr random tokens: chosen first, then its negatives. */
export function randomBatch(o: BenchShape & { batchSize: number }, random: () => number): TrainBatchInput {
  const perPrompt = 1 + o.negatives;
  const responses = o.batchSize * perPrompt;
  const token = () => Math.floor(random() * o.vocab);
  const promptIds = Int32Array.from({ length: o.batchSize * o.promptLen }, token);
  const promptOffsets = Int32Array.from({ length: o.batchSize + 1 }, (_, i) => i * o.promptLen);
  const responseIds = Int32Array.from({ length: responses * o.respLen }, token);
  const responseOffsets = Int32Array.from({ length: responses + 1 }, (_, i) => i * o.respLen);
  const responsePrompt = Int32Array.from({ length: responses }, (_, r) => Math.floor(r / perPrompt));
  const chosenIndex = Int32Array.from({ length: o.batchSize }, (_, b) => b * perPrompt);
  const rejectedIndex = Int32Array.from({ length: o.batchSize * o.negatives }, (_, i) => Math.floor(i / o.negatives) * perPrompt + 1 + (i % o.negatives));
  return { promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt, chosenIndex, rejectedIndex };
}

/** Uniform [0, 1) numbers from the package's seeded generator, so runs draw the same batches. */
export function seededRandom(seed: number): () => number {
  const rng = new SeededRng(seed >>> 0);
  return () => rng.next();
}

export async function runTrainBench(o: TrainBenchOptions): Promise<TrainBenchResult> {
  for (const [name, v] of Object.entries({ batchSize: o.batchSize, steps: o.steps, promptLen: o.promptLen, respLen: o.respLen, negatives: o.negatives })) {
    if (!(Number.isSafeInteger(v) && v >= 1)) throw new RangeError(`bench: ${name} must be a positive integer, got ${v}`);
  }
  if (!(Number.isSafeInteger(o.warmup) && o.warmup >= 0)) throw new RangeError(`bench: warmup must be a non-negative integer, got ${o.warmup}`);
  const addon = native();
  if (o.threads !== undefined) addon.setNumThreads(o.threads);
  const baseline = processMemoryMb("VmRSS");
  const config = benchModelConfig(o);
  const lora = o.loraRank > 0;
  const model = createModel(config, { seed: o.seed, device: o.device ?? "cpu", ...(lora ? { lora: { rank: o.loraRank, alpha: 2 * o.loraRank, dropout: 0 } } : {}) });
  const trainer = new addon.Trainer(model.native, { loss: "sdpo", beta: 1, maxGradNorm: 1, referenceMode: lora ? "adapters-off" : "frozen-copy" });
  try {
    const random = seededRandom(o.seed + 1);
    const stepMs: number[] = [];
    for (let i = 0; i < o.warmup + o.steps; i++) {
      const started = process.hrtime.bigint();
      const batch = randomBatch(o, random); // drawn inside the timed step, as the reference script does
      await trainer.step(batch, { learningRate: 1e-5, optimizerStep: true, weight: 1 });
      if (i >= o.warmup) stepMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    const seconds = stepMs.reduce((a, b) => a + b, 0) / 1000;
    const examplesPerS = (o.steps * o.batchSize) / seconds;
    const peak = processMemoryMb("VmHWM");
    const flops = modelFlopsPerExample(o, { frozenBase: lora });
    const matmul = o.matmulSize > 0 ? await addon.benchMatmul(o.matmulSize, Math.max(3, Math.ceil(2e10 / (2 * o.matmulSize ** 3))), o.device ?? "cpu") : null;
    const modelFlopsPerS = examplesPerS * flops.perExample;
    const matmulFlopsPerS = matmul ? matmul.gflops * 1e9 : null;
    const params = model.native.parameterInfo().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    return {
      impl: "softmax-dpo",
      device: o.device ?? "cpu",
      mode: lora ? "lora-adapters-off" : "full-frozen-copy",
      examplesPerSecond: examplesPerS,
      stepMsMedian: median(stepMs),
      peakRssMb: peak,
      baselineRssMb: baseline,
      modelFlopsPerSecond: modelFlopsPerS,
      matmulFlopsPerSecond: matmulFlopsPerS,
      flopsFractionOfMatmul: matmulFlopsPerS ? modelFlopsPerS / matmulFlopsPerS : null,
      params,
      threads: addon.buildInfo().numThreads,
      negatives: o.negatives,
      batchSize: o.batchSize,
      steps: o.steps,
    };
  } finally {
    trainer.dispose();
    model.native.dispose();
  }
}
