/**
 * A trainer's place in a data-parallel run: the launch variables, the process group (libtorch's c10d, opened
 * once per process in the addon) and the few sums the training loop needs besides the gradients.
 */
import { native, type DeviceName } from "../native";
import type { ResolvedDistributed } from "../trainers/options";
import { readLaunchEnv, type LaunchEnv } from "./launch_env";

export class DataParallel {
  private constructor(
    readonly launch: LaunchEnv,
    readonly backend: "gloo" | "nccl",
  ) {}

  get rank(): number {
    return this.launch.rank;
  }
  get worldSize(): number {
    return this.launch.worldSize;
  }
  /** Rank 0 alone writes checkpoints, logs and progress. */
  get isMain(): boolean {
    return this.launch.rank === 0;
  }

  /**
   * Joins the run the launcher started (rendezvous within options.timeoutMs), or returns null where no
   * launcher set WORLD_SIZE. `device`: the model's, which picks the backend for "auto".
   */
  static async join(options: ResolvedDistributed | null, device: DeviceName, env: NodeJS.ProcessEnv = process.env): Promise<DataParallel | null> {
    const launch = readLaunchEnv(env);
    if (!launch) return null;
    if (!options) return null;
    const info = native().distributedInfo();
    const onCuda = String(device).startsWith("cuda");
    let backend: "gloo" | "nccl";
    if (options.backend === "auto") backend = onCuda && info.nccl ? "nccl" : "gloo";
    else backend = options.backend;
    if (backend === "nccl" && !info.nccl) {
      throw new Error("distributed.backend 'nccl': this build of the addon has no NCCL (it needs a CUDA libtorch built with NCCL); use 'gloo'");
    }
    if (backend === "nccl" && !onCuda) throw new Error(`distributed.backend 'nccl' needs the model on a CUDA device (it is on ${device}); use 'gloo' for CPU`);
    if (backend === "gloo" && !info.gloo) {
      throw new Error("distributed.backend 'gloo': this build of the addon has no gloo (on Debian: apt-get install libgloo-dev, then rebuild the addon)");
    }
    const cudaIndex = onCuda ? Number(String(device).split(":")[1] ?? "0") : launch.localRank;
    await native().initDistributed({
      rank: launch.rank,
      worldSize: launch.worldSize,
      masterAddr: launch.masterAddr,
      masterPort: launch.masterPort,
      backend,
      timeoutMs: options.timeoutMs,
      agentStore: launch.agentStore,
      deviceIndex: cudaIndex,
    });
    return new DataParallel(launch, backend);
  }

  /** Sum over the ranks (float64; counts and 20-bit hashes stay exact). */
  allReduceSum(values: number[], phase: string): Promise<Float64Array> {
    return native().allReduceSum(Float64Array.from(values), phase);
  }

  /**
   * Refuses to start when the ranks disagree on the model, the options or the data: the sums of a 20-bit
   * fingerprint h and of h^2 match W * h and W * h^2 only when every rank holds the same h.
   */
  async checkAgreement(fingerprint: string): Promise<void> {
    const h = hash20(fingerprint);
    const [sum, sumSquares, ranks] = await this.allReduceSum([h, h * h, 1], "start-up check of the model, options and data");
    if (ranks !== this.worldSize) {
      throw new Error(`rank ${this.rank}: ${ranks} ranks answered the start-up check, WORLD_SIZE is ${this.worldSize}`);
    }
    if (sum * sum !== ranks * sumSquares) {
      throw new Error(
        `rank ${this.rank} of ${this.worldSize}: the ranks disagree on the model, trainer options or training data ` +
          "(fingerprint of the config, trainable shapes, options and row count differs); every rank must be started with the same ones",
      );
    }
  }
}

/** FNV-1a folded to 20 bits (squares and sums over 2^20 ranks stay exact in float64). */
export function hash20(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ (h >>> 20)) & 0xfffff;
}
