/**
 * `sdpo bench`: S-DPO training throughput of a randomly initialised llama model on random token
 * batches; prints one JSON line (examples/s, peak RSS, model FLOP/s and its fraction of the measured
 * fp32 matmul rate). bench/compare.sh runs it against bench/reference_sdpo.py (the paper's recipe).
 */
import * as os from "os";
import type { Argv, CommandModule } from "yargs";
import { runTrainBench, type TrainBenchOptions } from "../../bench/train_bench";
import type { DeviceName } from "../../native";
import type { BenchShape } from "../../bench/model_flops";
import { FlagError, integer, maxThreads, SEED_RANGE } from "../flags";

interface BenchArgs extends BenchShape {
  batchSize: number;
  steps: number;
  warmup: number;
  threads?: number;
  loraRank: number;
  matmulSize: number;
  seed: number;
  device: string;
}

/** Largest size per dimension; together they are also held to the machine's memory (benchMemoryBytes). */
const SIZE = 1 << 20;
const TOKENS = 1 << 17;
const STEPS = 1_000_000;

/**
 * Rough bytes a bench run holds: fp32 weights, gradients and two Adam moments (plus a frozen reference copy
 * without LoRA), and per example the saved activations of every layer and the response logits. Within a
 * factor of ~2; it exists to refuse, in a millisecond, shapes no machine here could hold.
 */
export function benchMemoryBytes(s: BenchShape & { batchSize: number; loraRank: number }): number {
  const headDim = s.dim / Math.max(1, s.heads);
  const layerParams = 2 * s.dim * s.dim + 2 * s.dim * s.kvHeads * headDim + 3 * s.dim * s.ffn;
  const params = s.layers * layerParams + 2 * s.vocab * s.dim;
  const copies = s.loraRank > 0 ? 1 : 5;
  const responses = 1 + s.negatives;
  const tokens = s.promptLen + responses * s.respLen;
  const activations = s.batchSize * tokens * s.layers * (12 * s.dim + 3 * s.ffn) + 3 * s.batchSize * responses * s.respLen * s.vocab;
  return 4 * (copies * params + activations);
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: "bench",
  describe: "Time S-DPO training steps of a random llama model on random batches; print one JSON line",
  builder: (y: Argv) =>
    y
      .option("vocab", integer("vocab", "vocabulary size", { min: 2, max: SIZE, default: 4096 }))
      .option("dim", integer("dim", "hidden size", { min: 1, max: SIZE, default: 256 }))
      .option("layers", integer("layers", "decoder layers", { min: 1, max: 4096, default: 4 }))
      .option("heads", integer("heads", "attention heads", { min: 1, max: 4096, default: 4 }))
      .option("kv-heads", integer("kv-heads", "key/value heads", { min: 1, max: 4096, default: 4 }))
      .option("ffn", integer("ffn", "SwiGLU intermediate size", { min: 1, max: SIZE, default: 688 }))
      .option("prompt-len", integer("prompt-len", "prompt tokens", { min: 1, max: TOKENS, default: 160 }))
      .option("resp-len", integer("resp-len", "tokens per response", { min: 1, max: TOKENS, default: 6 }))
      .option("negatives", integer("negatives", "rejected responses per example (K)", { min: 1, max: 4096, default: 3 }))
      .option("batch-size", integer("batch-size", "examples per step", { min: 1, max: 65536, default: 4 }))
      .option("steps", integer("steps", "timed steps", { min: 1, max: STEPS, default: 10 }))
      .option("warmup", integer("warmup", "untimed steps first", { min: 0, max: STEPS, default: 2 }))
      .option("threads", integer("threads", "intra-op threads (default: SDPO_NUM_THREADS, else 1 over OpenBLAS pthreads, else every core)", { min: 1, max: maxThreads() }))
      .option("lora-rank", integer("lora-rank", "0: full fine-tuning, frozen reference copy; R > 0: LoRA rank R, reference = adapters off", { min: 0, max: 65536, default: 0 }))
      .option("matmul-size", integer("matmul-size", "side of the fp32 matmul timed as the machine's rate (0: skip)", { min: 0, max: 16384, default: 1024 }))
      .option("seed", integer("seed", "seed of the weights and batches", { ...SEED_RANGE, default: 0 }))
      .option("device", { type: "string", describe: "cpu | cuda | cuda:<i>", default: "cpu" })
      .strict() as unknown as Argv<BenchArgs>,
  handler: async (args) => {
    const bytes = benchMemoryBytes(args);
    if (bytes > os.totalmem()) {
      throw new FlagError(
        `this shape needs about ${(bytes / 2 ** 30).toFixed(1)} GiB, more than the machine's ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ` +
          "make --vocab, --dim, --layers, --ffn, --prompt-len, --resp-len, --negatives or --batch-size smaller",
      );
    }
    if (!/^(cpu|cuda(:\d+)?)$/.test(args.device)) throw new RangeError(`sdpo bench: --device must be cpu, cuda or cuda:<i>, got ${JSON.stringify(args.device)}`);
    const options: TrainBenchOptions = {
      device: args.device as DeviceName,
      vocab: args.vocab,
      dim: args.dim,
      layers: args.layers,
      heads: args.heads,
      kvHeads: args.kvHeads,
      ffn: args.ffn,
      promptLen: args.promptLen,
      respLen: args.respLen,
      negatives: args.negatives,
      batchSize: args.batchSize,
      steps: args.steps,
      warmup: args.warmup,
      threads: args.threads,
      loraRank: args.loraRank,
      matmulSize: args.matmulSize,
      seed: args.seed,
    };
    process.stdout.write(JSON.stringify(await runTrainBench(options)) + "\n");
  },
};
