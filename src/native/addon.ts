/**
 * The addon as this package uses it: build facts, the ops, the model and trainer classes, data parallelism and
 * the machine benchmarks. The kernel checks only tests call (fused layers and optimizer against their plain
 * versions, the chunk rule) are typed apart, in test-hooks.ts.
 */
import type { DeviceName, NativeModelConstructor } from "./model-types";
import type { NativeOps } from "./ops-types";
import type { NativeTrainerConstructor } from "./train-types";

export interface BuildInfo {
  torchVersion: string;
  torchSource: string;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cxx11Abi: boolean;
  /** Intra-op (OpenMP) threads: SDPO_NUM_THREADS / OMP_NUM_THREADS, else 1 over OpenBLAS's own pthread pool, else every core. */
  numThreads: number;
  /** What runs libtorch's matrix products: "openblas-pthreads" | "openblas-openmp" | "openblas-serial" | "other". */
  blasThreading: string;
  napiVersion: number;
  /** Names of the binding groups compiled in (ops, model, train, ...). */
  bindings: string[];
}

export interface MatmulBenchResult {
  /** 2 n^3 reps / seconds / 1e9, float32 through libtorch's mm (the model's BLAS and threads). */
  gflops: number;
  seconds: number;
  n: number;
  reps: number;
  threads: number;
  device: string;
}

export interface TokenLogprobsBenchResult {
  /** Seconds per forward + backward call (grad for hidden and weight), synchronized around the timed calls. */
  seconds: number;
  /** Rows per logits chunk actually used (chosen after the warm-up when chunkRows was 0). */
  chunkRows: number;
  n: number;
  d: number;
  v: number;
  reps: number;
  device: string;
}

export interface DistributedGroupOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: "gloo" | "nccl";
  timeoutMs: number;
  /** torchrun's agent serves the store (TORCHELASTIC_USE_AGENT_STORE): every rank is a client. */
  agentStore?: boolean;
  /** nccl: this rank's CUDA device (LOCAL_RANK). */
  deviceIndex?: number;
}

export interface DistributedGroupInfo {
  rank: number;
  worldSize: number;
  backend: "gloo" | "nccl";
}

export interface NativeAddon {
  buildInfo(): BuildInfo;
  /** Rendezvous and process group, once per process (same options again: the same group). */
  initDistributed(options: DistributedGroupOptions): Promise<DistributedGroupInfo>;
  /** Sum over all ranks of a Float64Array (a new array); `phase` names the call in errors. */
  allReduceSum(values: Float64Array, phase: string): Promise<Float64Array>;
  destroyDistributed(): Promise<void>;
  /** Backends this build carries, and the open group. */
  distributedInfo(): { gloo: boolean; nccl: boolean; group: DistributedGroupInfo | null };
  setNumThreads(n: number): void;
  manualSeed(seed: number): void;
  Model: NativeModelConstructor;
  // ops
  sdpoLoss: NativeOps["sdpoLoss"];
  dpoLoss: NativeOps["dpoLoss"];
  napoLoss: NativeOps["napoLoss"];
  tokenLogProbs: NativeOps["tokenLogProbs"];

  Trainer: NativeTrainerConstructor;
  /** Times `reps` float32 [n, n] x [n, n] products (after one warm-up) off the event loop; device default "cpu". */
  benchMatmul(n: number, reps: number, device?: DeviceName): Promise<MatmulBenchResult>;
  /** Times token log-probs forward + backward on random float32 device tensors (one warm-up, then reps calls). */
  benchTokenLogprobs(args: { n: number; d: number; v: number; chunkRows?: number; reps?: number; device?: DeviceName }): Promise<TokenLogprobsBenchResult>;
}
