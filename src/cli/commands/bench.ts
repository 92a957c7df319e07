/**
 * `sdpo bench`: S-DPO training throughput of a randomly initialised llama model on random token
 * batches; prints one JSON line (examples/s, peak RSS, model FLOP/s and its fraction of the measured
 * fp32 matmul rate). bench/compare.sh runs it against bench/reference_sdpo.py (the paper's recipe).
 */
import type { Argv, CommandModule } from "yargs";
import { runTrainBench, type TrainBenchOptions } from "../../bench/train_bench";
import type { DeviceName } from "../../native";
import type { BenchShape } from "../../bench/model_flops";

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

const integer = (describe: string, fallback?: number) => ({ type: "number" as const, describe, ...(fallback === undefined ? {} : { default: fallback }) });

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: "bench",
  describe: "Time S-DPO training steps of a random llama model on random batches; print one JSON line",
  builder: (y: Argv) =>
    y
      .option("vocab", integer("vocabulary size", 4096))
      .option("dim", integer("hidden size", 256))
      .option("layers", integer("decoder layers", 4))
      .option("heads", integer("attention heads", 4))
      .option("kv-heads", integer("key/value heads", 4))
      .option("ffn", integer("SwiGLU intermediate size", 688))
      .option("prompt-len", integer("prompt tokens", 160))
      .option("resp-len", integer("tokens per response", 6))
      .option("negatives", integer("rejected responses per example (K)", 3))
      .option("batch-size", integer("examples per step", 4))
      .option("steps", integer("timed steps", 10))
      .option("warmup", integer("untimed steps first", 2))
      .option("threads", integer("intra-op threads (default: SDPO_NUM_THREADS, else 1 over OpenBLAS pthreads, else every core)"))
      .option("lora-rank", integer("0: full fine-tuning, frozen reference copy; R > 0: LoRA rank R, reference = adapters off", 0))
      .option("matmul-size", integer("side of the fp32 matmul timed as the machine's rate (0: skip)", 1024))
      .option("seed", integer("seed of the weights and batches", 0))
      .option("device", { type: "string", describe: "cpu | cuda | cuda:<i>", default: "cpu" })
      .strict() as unknown as Argv<BenchArgs>,
  handler: async (args) => {
    for (const [flag, v] of Object.entries(args)) {
      if (typeof v === "number" && flag !== "device" && !(Number.isSafeInteger(v) && v >= 0)) {
        throw new RangeError(`sdpo bench: --${flag} must be a non-negative integer, got ${v}`);
      }
    }
    if (args.threads !== undefined && args.threads < 1) throw new RangeError(`sdpo bench: --threads must be >= 1, got ${args.threads}`);
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
