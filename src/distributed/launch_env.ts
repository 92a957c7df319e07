/**
 * The launch contract of torchrun (and of SLURM / Kubernetes PyTorchJob wrappers that speak it): a
 * data-parallel process learns its place from RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR
 * and MASTER_PORT. Read once, checked, with errors naming the variable.
 */

export interface LaunchEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** torchrun's elastic agent already serves the TCPStore at MASTER_ADDR:MASTER_PORT. */
  agentStore: boolean;
}

function wholeVar(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text.trim() === "") throw new Error(`distributed launch: ${name} is not set (a launcher such as torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)`);
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`distributed launch: ${name}=${text} is not a whole number in [${min}, ${max}]`);
  }
  return value;
}

/** The launch variables, or null when WORLD_SIZE is unset (a single process started by hand). */
export function readLaunchEnv(env: NodeJS.ProcessEnv = process.env): LaunchEnv | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === "") return null;
  const worldSize = wholeVar(env, "WORLD_SIZE", 1, 1 << 20);
  const rank = wholeVar(env, "RANK", 0, worldSize - 1);
  const localRank = env.LOCAL_RANK === undefined ? rank : wholeVar(env, "LOCAL_RANK", 0, worldSize - 1);
  const localWorldSize = env.LOCAL_WORLD_SIZE === undefined ? worldSize : wholeVar(env, "LOCAL_WORLD_SIZE", 1, worldSize);
  if (localRank >= localWorldSize) {
    throw new RangeError(`distributed launch: LOCAL_RANK=${localRank} is not below LOCAL_WORLD_SIZE=${localWorldSize}`);
  }
  const masterAddr = (env.MASTER_ADDR ?? "").trim();
  if (masterAddr === "") throw new Error("distributed launch: MASTER_ADDR is not set (the address of rank 0's rendezvous store)");
  const masterPort = wholeVar(env, "MASTER_PORT", 1, 65535);
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, agentStore: env.TORCHELASTIC_USE_AGENT_STORE === "True" };
}
