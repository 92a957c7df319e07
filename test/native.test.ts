import { native } from "../src/native";
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
