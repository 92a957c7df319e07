/** The process-group bindings refuse bad input before any rendezvous, and say what is missing. */
import { freeLoopbackPort } from "../../src/distributed/spawn_local";
import { native } from "../../src/native";
import { rejectionOf, thrownBy } from "../helpers";
import { tinyModel } from "../trainers/fixtures";

const good = { rank: 0, worldSize: 2, masterAddr: "127.0.0.1", masterPort: 29500, backend: "gloo" as const, timeoutMs: 1000 };

describe("process-group bindings", () => {
  test("initDistributed checks its options", () => {
    const init = (o: object) => thrownBy(() => void native().initDistributed({ ...good, ...o } as never));
    expect(init({ rank: 2 }).message).toMatch(/rank must be a whole number in \[0, 1\]/);
    expect(init({ worldSize: 0 }).message).toMatch(/worldSize must be a whole number/);
    expect(init({ masterPort: 70000 }).message).toMatch(/masterPort must be a whole number in \[1, 65535\]/);
    expect(init({ masterAddr: "" }).message).toMatch(/masterAddr must be a non-empty string/);
    expect(init({ backend: "mpi" }).message).toMatch(/backend must be 'gloo' or 'nccl', got 'mpi'/);
    expect(init({ timeoutMs: 0.5 }).message).toMatch(/timeoutMs must be a whole number/);
    expect(thrownBy(() => void native().initDistributed(undefined as never)).name).toBe("TypeError");
  });

  test("without a group: sums, attaching and empty steps are refused with the reason", async () => {
    expect(native().distributedInfo().group).toBeNull();
    expect((await rejectionOf(Promise.resolve().then(() => native().allReduceSum(new Float64Array(2), "x")))).message).toMatch(/no process group; call initDistributed\(\) first/);
    expect(thrownBy(() => void native().allReduceSum(new Float32Array(2) as never, "x")).name).toBe("TypeError");
    const model = tinyModel();
    const trainer = new (native().Trainer)(model.native, { loss: "sft" });
    expect(thrownBy(() => trainer.attachProcessGroup({})).message).toMatch(/no process group; call initDistributed\(\) first/);
    expect(thrownBy(() => trainer.attachProcessGroup({ bucketBytes: -1 })).message).toMatch(/bucketBytes must be a whole number >= 0/);
    expect(thrownBy(() => void trainer.applyUpdate({ learningRate: 1e-3 })).message).toMatch(/only a data-parallel trainer/);
    trainer.dispose();
  });

  test("a world of one needs no peer: gloo over loopback opens, sums, and closes", async () => {
    if (!native().distributedInfo().gloo) return;
    const port = await freeLoopbackPort();
    await native().initDistributed({ ...good, worldSize: 1, masterPort: port });
    try {
      expect(native().distributedInfo().group).toEqual({ rank: 0, worldSize: 1, backend: "gloo" });
      // The same options again: the same group; other options: refused (one group per process).
      await native().initDistributed({ ...good, worldSize: 1, masterPort: port });
      expect((await rejectionOf(native().initDistributed({ ...good, worldSize: 1, masterPort: port + 1 }))).message).toMatch(/already belongs to a process group/);
      expect(Array.from(await native().allReduceSum(Float64Array.from([1.5, -2]), "test"))).toEqual([1.5, -2]);
    } finally {
      await native().destroyDistributed();
    }
    expect(native().distributedInfo().group).toBeNull();
  });
});
