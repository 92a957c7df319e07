import * as fs from "fs";
import { native } from "../src/native";

// Every asynchronous native call runs on one dedicated thread ("sdpo-torch"), so that glibc keeps one
// malloc arena of cached tensors rather than one per libuv pool thread (peak RSS), in call order.
const linux = process.platform === "linux";

function threadNames(): string[] {
  return fs.readdirSync("/proc/self/task").map((tid) => {
    try {
      return fs.readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
    } catch {
      return ""; // the thread ended between the listing and the read
    }
  });
}

(linux ? describe : describe.skip)("native calls run on one torch thread", () => {
  test("concurrent calls all settle, in order, on the sdpo-torch thread", async () => {
    const settled: number[] = [];
    const calls = Array.from({ length: 12 }, (_, i) =>
      native()
        .benchMatmul(16 + i, 2)
        .then((r) => {
          settled.push(i);
          return r;
        }),
    );
    const results = await Promise.all(calls);
    expect(results.map((r) => r.n)).toEqual(Array.from({ length: 12 }, (_, i) => 16 + i));
    expect(settled).toEqual(Array.from({ length: 12 }, (_, i) => i)); // one queue: first in, first out
    // Threads started from the torch thread inherit its name: its OpenMP workers and libtorch's
    // pthreadpool workers, numThreads - 1 of each at most. None of them come from libuv's pool.
    const bound = 2 * native().buildInfo().numThreads;
    const torchThreads = () => threadNames().filter((n) => n === "sdpo-torch").length;
    expect(torchThreads()).toBeGreaterThanOrEqual(1);
    expect(torchThreads()).toBeLessThanOrEqual(bound);
    await Promise.all(Array.from({ length: 24 }, () => native().benchMatmul(8, 1)));
    expect(torchThreads()).toBeGreaterThanOrEqual(1);
    expect(torchThreads()).toBeLessThanOrEqual(bound);
  });
});
