/**
 * Checkpoints split over several safetensors files, as Hugging Face writes them:
 * `model-00001-of-00003.safetensors`, ... plus `model.safetensors.index.json` holding
 * { "metadata": { "total_size": bytes }, "weight_map": { tensor name: shard file } }.
 * A checkpoint small enough is a single `model.safetensors` and no index.
 */
import { promises as fsp } from "fs";
import * as path from "path";
import { writeFileAtomic } from "./atomic";
import { readRegularFile } from "../regular-file";
import { byteSizeOf, openSafetensors, SafetensorsFile, TensorToWrite, writeSafetensors } from "./safetensors";

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";
/** transformers' default `max_shard_size` ("5GB"). */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

export interface SafetensorsIndex {
  metadata: Record<string, unknown>;
  /** Tensor name -> shard file name (relative to the index's folder). */
  weightMap: Map<string, string>;
}

/** Reads and checks `model.safetensors.index.json`: weight_map must map names to plain file names. */
export async function readSafetensorsIndex(indexPath: string): Promise<SafetensorsIndex> {
  const fail = (what: string): never => {
    throw new Error(`safetensors index ${indexPath}: ${what}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readRegularFile(indexPath));
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail("must be a JSON object");
  const { metadata = {}, weight_map: rawMap } = parsed as { metadata?: unknown; weight_map?: unknown };
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) fail(`"metadata" must be an object`);
  if (typeof rawMap !== "object" || rawMap === null || Array.isArray(rawMap)) fail(`"weight_map" must be an object`);
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(rawMap as Record<string, unknown>)) {
    if (typeof file !== "string" || file.length === 0) fail(`weight_map["${name}"] must be a file name`);
    // Shards live beside the index: refuse paths that would read elsewhere.
    if (path.basename(file as string) !== file || file === "." || file === "..") {
      fail(`weight_map["${name}"] = ${JSON.stringify(file)} must be a file name in the same folder`);
    }
    weightMap.set(name, file as string);
  }
  if (weightMap.size === 0) fail(`"weight_map" is empty`);
  return { metadata: metadata as Record<string, unknown>, weightMap };
}

/** Every tensor of a checkpoint folder, from one file or from shards, opened lazily. */
export interface CheckpointTensors {
  /** Files the tensors come from (one, or the shards). */
  files: string[];
  /** Tensor name -> the open file holding it. */
  sources: Map<string, SafetensorsFile>;
}

/**
 * Opens `<dir>/<base>.safetensors`, or the shards named by `<dir>/<base>.safetensors.index.json`.
 * Shards must hold exactly the tensors the index assigns to them.
 */
export async function openCheckpointTensors(dir: string, base = "model"): Promise<CheckpointTensors> {
  const single = path.join(dir, `${base}.safetensors`);
  const indexPath = path.join(dir, `${base}.safetensors.index.json`);
  const sources = new Map<string, SafetensorsFile>();
  if (await exists(single)) {
    const file = await openSafetensors(single);
    for (const name of file.names()) sources.set(name, file);
    return { files: [single], sources };
  }
  if (!(await exists(indexPath))) {
    throw new Error(`checkpoint ${dir}: neither ${base}.safetensors nor ${base}.safetensors.index.json found`);
  }
  const index = await readSafetensorsIndex(indexPath);
  const shardNames = [...new Set(index.weightMap.values())].sort();
  const files: string[] = [];
  for (const shardName of shardNames) {
    const shardPath = path.join(dir, shardName);
    if (!(await exists(shardPath))) throw new Error(`safetensors index ${indexPath}: shard ${shardName} is missing`);
    const file = await openSafetensors(shardPath);
    files.push(shardPath);
    for (const name of file.names()) {
      const assigned = index.weightMap.get(name);
      if (assigned === undefined) throw new Error(`safetensors index ${indexPath}: shard ${shardName} holds tensor "${name}" the index does not list`);
      if (assigned !== shardName) {
        throw new Error(`safetensors index ${indexPath}: tensor "${name}" is listed in ${assigned} but found in ${shardName}`);
      }
      sources.set(name, file);
    }
  }
  for (const [name, shardName] of index.weightMap) {
    if (!sources.has(name)) throw new Error(`safetensors index ${indexPath}: tensor "${name}" is not in its shard ${shardName}`);
  }
  return { files, sources };
}

/**
 * Writes tensors as `<base>.safetensors`, or, when they exceed `maxShardBytes`, as numbered shards plus
 * an index (tensors in name order, a shard closed when the next tensor would overflow it; a tensor larger
 * than the limit gets a shard of its own). Returns the file names written.
 */
export async function writeShardedSafetensors(
  dir: string,
  tensors: readonly TensorToWrite[],
  options: { maxShardBytes?: number; metadata?: Record<string, string>; base?: string } = {}
): Promise<string[]> {
  const maxShardBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  const base = options.base ?? "model";
  if (!(Number.isSafeInteger(maxShardBytes) && maxShardBytes > 0)) {
    throw new RangeError(`writeShardedSafetensors: maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  }
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const totalSize = sorted.reduce((sum, t) => sum + byteSizeOf(t), 0);
  if (totalSize <= maxShardBytes) {
    await writeSafetensors(path.join(dir, `${base}.safetensors`), sorted, options.metadata);
    return [`${base}.safetensors`];
  }
  const shards: TensorToWrite[][] = [];
  let current: TensorToWrite[] = [];
  let currentSize = 0;
  for (const t of sorted) {
    const size = byteSizeOf(t);
    if (current.length > 0 && currentSize + size > maxShardBytes) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(t);
    currentSize += size;
  }
  shards.push(current);
  const pad = (i: number) => String(i).padStart(5, "0");
  const names = shards.map((_, i) => `${base}-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    await writeSafetensors(path.join(dir, names[i]), shards[i], options.metadata);
    for (const t of shards[i]) weightMap[t.name] = names[i];
  }
  const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
  await writeFileAtomic(path.join(dir, `${base}.safetensors.index.json`), JSON.stringify(index, null, 2) + "\n");
  return [...names, `${base}.safetensors.index.json`];
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
