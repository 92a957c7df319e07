/**
 * The packaging tools on fake folders: prune-build.js (what a source build in an installed package leaves in
 * build/) and stale-prebuilts.js (which prebuilts `npm pack` leaves out).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { pruneBuild } = require("../../native/tools/prune-build") as { pruneBuild(dir: string): number };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { excludeStalePrebuilts } = require("../../native/tools/stale-prebuilts") as {
  excludeStalePrebuilts(root: string, hash?: string): { dir: string; file: string; why: string }[];
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { nativeSourcesHash } = require("../../native/tools/sources-hash") as { nativeSourcesHash(root: string): string };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-pack-tools-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(file: string, bytes: number | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof bytes === "string" ? bytes : Buffer.alloc(bytes));
}

function listTree(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listTree(p).map((f) => path.join(e.name, f)) : [e.name];
  });
}

describe("prune-build (after a source build in an installed package)", () => {
  test("keeps build/Release/softmax_dpo.node alone and reports the bytes freed", () => {
    const build = path.join(tmp, "pkg", "build");
    write(path.join(build, "Release", "softmax_dpo.node"), 100);
    write(path.join(build, "Release", "softmax_dpo.exp"), 10);
    write(path.join(build, "CMakeFiles", "softmax_dpo.dir", "cmake_pch.hxx.gch"), 5000);
    write(path.join(build, "CMakeFiles", "softmax_dpo.dir", "native", "model", "decoder.cpp.o"), 2000);
    write(path.join(build, "CMakeCache.txt"), 300);
    write(path.join(build, "build.ninja"), 40);
    expect(pruneBuild(build)).toBe(10 + 5000 + 2000 + 300 + 40);
    expect(listTree(build)).toEqual([path.join("Release", "softmax_dpo.node")]);
    expect(fs.statSync(path.join(build, "Release", "softmax_dpo.node")).size).toBe(100);
  });

  test("a build without the .node (a failed build) is left as it is", () => {
    const build = path.join(tmp, "failed", "build");
    write(path.join(build, "CMakeCache.txt"), 300);
    expect(pruneBuild(build)).toBe(0);
    expect(listTree(build)).toEqual(["CMakeCache.txt"]);
    expect(pruneBuild(path.join(tmp, "no-such-build"))).toBe(0);
  });
});

describe("stale-prebuilts (what npm pack leaves out)", () => {
  test("prebuilts whose manifest names other native sources go into prebuilds/<dir>/.npmignore; none left: no file", () => {
    const root = path.join(tmp, "stale");
    write(path.join(root, "CMakeLists.txt"), "project(x)\n");
    write(path.join(root, "native", "a.cpp"), "int a;\n");
    const hash = nativeSourcesHash(root);
    const dir = path.join(root, "prebuilds", "linux-x64");
    const put = (name: string, manifest: object | string) => {
      write(path.join(dir, `${name}.node`), 8);
      write(path.join(dir, `${name}.json`), typeof manifest === "string" ? manifest : JSON.stringify(manifest));
    };
    put("softmax_dpo.torch1.13.cpu", { nativeSourcesSha256: hash });
    put("softmax_dpo.torch2.11.cu130", { nativeSourcesSha256: "0".repeat(64) });
    put("softmax_dpo.torch2.1.cu121", {});
    put("softmax_dpo.torch2.2.cu122", "{ not json");

    const left = excludeStalePrebuilts(root);
    expect(left.map((s) => [s.dir, s.file])).toEqual([
      ["linux-x64", "softmax_dpo.torch2.1.cu121.node"],
      ["linux-x64", "softmax_dpo.torch2.11.cu130.node"],
      ["linux-x64", "softmax_dpo.torch2.2.cu122.node"],
    ]);
    expect(left.map((s) => s.why)).toEqual([
      "its manifest records no sources hash",
      expect.stringMatching(/^built from other native sources \(000000000000…, these are [0-9a-f]{12}…\)$/),
      "unreadable manifest",
    ]);
    const ignore = fs.readFileSync(path.join(dir, ".npmignore"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
    expect(ignore).toEqual([
      "/softmax_dpo.torch2.1.cu121.json",
      "/softmax_dpo.torch2.1.cu121.node",
      "/softmax_dpo.torch2.11.cu130.json",
      "/softmax_dpo.torch2.11.cu130.node",
      "/softmax_dpo.torch2.2.cu122.json",
      "/softmax_dpo.torch2.2.cu122.node",
    ]);

    // Sources changed: the CPU one is stale too. Then rebuilt everything: the .npmignore goes away.
    expect(excludeStalePrebuilts(root, "f".repeat(64))).toHaveLength(4);
    for (const name of fs.readdirSync(dir).filter((n) => n.endsWith(".json"))) fs.writeFileSync(path.join(dir, name), JSON.stringify({ nativeSourcesSha256: hash }));
    expect(excludeStalePrebuilts(root)).toEqual([]);
    expect(fs.existsSync(path.join(dir, ".npmignore"))).toBe(false);
  });
});
