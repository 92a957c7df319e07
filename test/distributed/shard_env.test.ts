/** The pure parts of data parallelism: launch variables, a rank's share of a batch, the option's checks. */
import { PreferenceDataset } from "../../src/data/dataset";
import type { PreferenceBatch } from "../../src/data/batch";
import { unpack } from "../../src/data/pack";
import { hash20 } from "../../src/distributed/data_parallel";
import { readLaunchEnv } from "../../src/distributed/launch_env";
import { selectRows, shardPositions } from "../../src/distributed/shard";
import { localRankThreadsEnv } from "../../src/distributed/spawn_local";
import { resolveDistributed } from "../../src/trainers/options";
import { TempDir } from "../trainers/fixtures";

const launch = { RANK: "1", WORLD_SIZE: "2", LOCAL_RANK: "1", LOCAL_WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: "29500" };

describe("readLaunchEnv", () => {
  test("reads torchrun's variables; none set: null", () => {
    expect(readLaunchEnv({})).toBeNull();
    expect(readLaunchEnv({ ...launch, TORCHELASTIC_USE_AGENT_STORE: "True" })).toEqual({
      rank: 1, worldSize: 2, localRank: 1, localWorldSize: 2, masterAddr: "127.0.0.1", masterPort: 29500, agentStore: true,
    });
    // LOCAL_* default to the global ones (one machine), as a bare launcher may not set them.
    const { LOCAL_RANK: _r, LOCAL_WORLD_SIZE: _w, ...bare } = launch;
    expect(readLaunchEnv(bare)).toMatchObject({ localRank: 1, localWorldSize: 2, agentStore: false });
  });

  test("names the variable that is wrong", () => {
    expect(() => readLaunchEnv({ ...launch, RANK: "2" })).toThrow(/RANK=2 is not a whole number in \[0, 1\]/);
    expect(() => readLaunchEnv({ ...launch, WORLD_SIZE: "two" })).toThrow(/WORLD_SIZE=two/);
    expect(() => readLaunchEnv({ ...launch, MASTER_PORT: "70000" })).toThrow(/MASTER_PORT=70000/);
    expect(() => readLaunchEnv({ ...launch, MASTER_ADDR: "" })).toThrow(/MASTER_ADDR is not set/);
    const { RANK: _rank, ...noRank } = launch;
    expect(() => readLaunchEnv(noRank)).toThrow(/RANK is not set/);
    expect(() => readLaunchEnv({ ...launch, LOCAL_RANK: "3", LOCAL_WORLD_SIZE: "2" })).toThrow(/LOCAL_RANK=3/);
  });
});

describe("a rank's share of a global batch", () => {
  const tmp = new TempDir();
  afterAll(() => tmp.remove());

  async function firstBatch(size: number, negatives: number): Promise<PreferenceBatch> {
    const data = PreferenceDataset.fromArrow(tmp.arrow(`b${size}-${negatives}.arrow`, 11));
    for await (const batch of data.batches({ batchSize: size, negatives, shuffle: true, seed: 3 })) return batch;
    throw new Error("no batch");
  }

  test("positions are strided by rank, disjoint, and cover the batch", () => {
    expect(shardPositions(8, 0, 2)).toEqual([0, 2, 4, 6]);
    expect(shardPositions(8, 1, 2)).toEqual([1, 3, 5, 7]);
    expect(shardPositions(1, 1, 2)).toEqual([]);
    const all = [0, 1, 2].flatMap((r) => shardPositions(7, r, 3)).sort((a, b) => a - b);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test("selectRows keeps every field of the chosen rows, against a row-by-row rebuild", async () => {
    const batch = await firstBatch(8, 3);
    const positions = [5, 1, 6];
    const shard = selectRows(batch, positions)!;
    expect(shard.size).toBe(3);
    expect(shard.negatives).toBe(3);
    expect(Array.from(shard.rows)).toEqual(positions.map((p) => batch.rows[p]));
    expect(Array.from(shard.chosenItem)).toEqual(positions.map((p) => batch.chosenItem[p]));
    expect(unpack(shard.prompt)).toEqual(positions.map((p) => unpack(batch.prompt)[p]));
    expect(unpack(shard.chosen)).toEqual(positions.map((p) => unpack(batch.chosen)[p]));
    expect(unpack(shard.rejected)).toEqual(positions.flatMap((p) => unpack(batch.rejected).slice(p * 3, p * 3 + 3)));
    expect(Array.from(shard.rejectedItems)).toEqual(positions.flatMap((p) => Array.from(batch.rejectedItems.slice(p * 3, p * 3 + 3))));
    const candidatesOf = (b: PreferenceBatch, i: number) => unpack(b.candidates).slice(b.candidateOffsets[i], b.candidateOffsets[i + 1]);
    const itemsOf = (b: PreferenceBatch, i: number) => Array.from(b.candidateItems.slice(b.candidateOffsets[i], b.candidateOffsets[i + 1]));
    positions.forEach((p, i) => {
      expect(candidatesOf(shard, i)).toEqual(candidatesOf(batch, p));
      expect(itemsOf(shard, i)).toEqual(itemsOf(batch, p));
    });
    expect(shard.text.prompt).toEqual(positions.map((p) => batch.text.prompt[p]));
    expect(shard.historyFirstTokens).toBeUndefined();
    // History first tokens (ResampledDataset's batches) come along when the batch has them.
    const history = { values: Int32Array.from([7, 8, 9, 10, 11, 12, 13, 14]), offsets: Int32Array.from([0, 1, 1, 3, 4, 5, 6, 7, 8]) };
    const withHistory = selectRows({ ...batch, historyFirstTokens: history }, positions)!;
    expect(unpack(withHistory.historyFirstTokens!).map((l) => Array.from(l))).toEqual(positions.map((p) => Array.from(unpack(history)[p])));
    expect(selectRows(batch, [])).toBeNull();
    expect(() => selectRows(batch, [8])).toThrow(/position 8 is not a row of a batch of 8/);
  });

  test("sft batches (no negatives) shard too", async () => {
    const batch = await firstBatch(4, 0);
    const shard = selectRows(batch, [3])!;
    expect(shard.negatives).toBe(0);
    expect(unpack(shard.rejected)).toEqual([]);
    expect(unpack(shard.chosen)).toEqual([unpack(batch.chosen)[3]]);
  });
});

describe("the distributed option", () => {
  test("defaults, off, and checks", () => {
    expect(resolveDistributed(undefined)).toEqual({ backend: "auto", timeoutMs: 600000, bucketBytes: 25 * 1024 * 1024 });
    expect(resolveDistributed(false)).toBeNull();
    expect(resolveDistributed({ backend: "gloo", timeoutMs: 5000, bucketBytes: 0 })).toEqual({ backend: "gloo", timeoutMs: 5000, bucketBytes: 0 });
    expect(() => resolveDistributed({ backend: "mpi" as never })).toThrow(/distributed.backend must be one of gloo, nccl, auto/);
    expect(() => resolveDistributed({ timeoutMs: 0 })).toThrow(/distributed.timeoutMs/);
    expect(() => resolveDistributed({ timeout: 5 } as never)).toThrow(/unknown distributed option 'timeout'/);
  });

  test("the start-up fingerprint is 20 bits and tells configs apart", () => {
    const a = hash20('{"batchSize":4}');
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(1 << 20);
    expect(hash20('{"batchSize":4}')).toBe(a);
    expect(hash20('{"batchSize":5}')).not.toBe(a);
  });
});

describe("localRankThreadsEnv", () => {
  test("each of N ranks gets its share of the cores for BLAS threads, unless the caller chose", () => {
    expect(localRankThreadsEnv({ PATH: "/bin" }, 2, 2, "openblas-pthreads")).toEqual({ PATH: "/bin", OPENBLAS_NUM_THREADS: "1" });
    expect(localRankThreadsEnv({}, 2, 16, "openblas-pthreads")).toEqual({ OPENBLAS_NUM_THREADS: "8" });
    expect(localRankThreadsEnv({}, 4, 2, "openblas-pthreads")).toEqual({ OPENBLAS_NUM_THREADS: "1" });
    expect(localRankThreadsEnv({ OPENBLAS_NUM_THREADS: "2" }, 2, 2, "openblas-pthreads")).toEqual({ OPENBLAS_NUM_THREADS: "2" });
    // Another BLAS: the addon's intra-op threads would be every core, so they are the share too.
    expect(localRankThreadsEnv({}, 2, 16, "other")).toEqual({ OPENBLAS_NUM_THREADS: "8", SDPO_NUM_THREADS: "8" });
    expect(localRankThreadsEnv({ OMP_NUM_THREADS: "3" }, 2, 16, "other")).toEqual({ OMP_NUM_THREADS: "3", OPENBLAS_NUM_THREADS: "8" });
  });
});
