import { native, nativeLoadReport } from "../src/native";
import { expectThrows } from "./helpers";

describe("native addon", () => {
  test("loads and reports its libtorch build", () => {
    const info = native().buildInfo();
    expect(info.torchVersion).toMatch(/^\d+\.\d+/);
    expect(typeof info.cudaCompiled).toBe("boolean");
    expect(info.napiVersion).toBeGreaterThanOrEqual(8);
  });

  test("argument errors are JS errors, not crashes", () => {
    expectThrows(() => native().setNumThreads(0), "RangeError", /n must be >= 1/);
    expectThrows(() => native().setNumThreads("two" as unknown as number), "TypeError", /must be a number/);
  });
});

describe("intra-op thread default", () => {
  // Read in a fresh process: the count is chosen once, when the addon loads.
  function buildInfoWith(env: Record<string, string>): { numThreads: number; blasThreading: string } {
    const { execFileSync } = require("child_process") as typeof import("child_process");
    const base = { ...process.env };
    delete base.SDPO_NUM_THREADS;
    delete base.OMP_NUM_THREADS;
    const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(nativeLoadReport().binary)}).buildInfo()))`;
    return JSON.parse(execFileSync(process.execPath, ["-e", script], { env: { ...base, ...env }, encoding: "utf8" }));
  }

  test("one thread over OpenBLAS's own pthread pool, every core otherwise; SDPO_NUM_THREADS wins", () => {
    const info = buildInfoWith({});
    expect(["openblas-pthreads", "openblas-openmp", "openblas-serial", "other"]).toContain(info.blasThreading);
    if (info.blasThreading === "openblas-pthreads") expect(info.numThreads).toBe(1);
    else expect(info.numThreads).toBe(require("os").cpus().length);
    expect(buildInfoWith({ SDPO_NUM_THREADS: "3" }).numThreads).toBe(3);
    expect(buildInfoWith({ OMP_NUM_THREADS: "2" }).numThreads).toBe(2);
  });
});
