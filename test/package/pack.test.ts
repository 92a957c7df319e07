/**
 * What `npm pack` puts in the tarball, read with `npm pack --dry-run --json --ignore-scripts` (the list as the
 * checkout stands, without prepack's build): the CPU prebuilt and its manifest, dist/src, the native sources
 * (the fallback build), the shipped data; no build leftovers, no prebuilt made from other sources; and a
 * tarball under MAX_PACKED_MB. Skipped, with the reason in its name, in a checkout where `npm pack` (prepack)
 * or `npm run prebuild` has not made the CPU prebuilt for the current native sources: the CI's clean clone.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { nativeSourcesHash } = require("../../native/tools/sources-hash") as { nativeSourcesHash(root: string): string };

/** The README's stated bound on the tarball (measured: about 4 MB; the LastFM data is most of it). */
const MAX_PACKED_MB = 6;
/** Unpacked, as it lands in node_modules/softmax-dpo (measured: about 15 MB). */
const MAX_UNPACKED_MB = 25;

const root = path.resolve(__dirname, "..", "..");
const platform = `${process.platform}-${process.arch}`;
const hash = nativeSourcesHash(root);

function currentCpuPrebuilt(): string | null {
  const dir = path.join(root, "prebuilds", platform);
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  for (const name of names.filter((n) => n.endsWith(".cpu.json"))) {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as { nativeSourcesSha256?: string };
    if (manifest.nativeSourcesSha256 === hash && fs.existsSync(path.join(dir, name.replace(/\.json$/, ".node")))) return name.replace(/\.json$/, "");
  }
  return null;
}

const cpu = currentCpuPrebuilt();
const built = fs.existsSync(path.join(root, "dist", "src", "index.js"));
const skipReason = !cpu
  ? `no CPU prebuilt for the current native sources in prebuilds/${platform} (npm pack or npm run prebuild makes one)`
  : !built
    ? "dist/ is not built (npm run build:ts)"
    : null;

interface PackEntry {
  path: string;
  size: number;
}
interface PackResult {
  size: number;
  unpackedSize: number;
  files: PackEntry[];
}

(skipReason ? describe.skip : describe)(`npm pack file list${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let pack: PackResult;
  let files: string[];
  beforeAll(() => {
    const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8", timeout: 120000 });
    expect(r.status).toBe(0);
    pack = (JSON.parse(r.stdout) as PackResult[])[0];
    files = pack.files.map((f) => f.path);
  });

  test("holds the CPU prebuilt with its manifest, dist/src (the loader, the CLI) and what the fallback build needs", () => {
    expect(files).toContain(`prebuilds/${platform}/${cpu}.node`);
    expect(files).toContain(`prebuilds/${platform}/${cpu}.json`);
    for (const f of [
      "package.json",
      "README.md",
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/src/native-loader.js",
      "dist/src/cli/main.js",
      "native/tools/install.js",
      "native/tools/build.js",
      "native/tools/prune-build.js",
      "native/tools/sources-hash.js",
      "native/binding/addon.cpp",
      "CMakeLists.txt",
      "datasets/lastfm/train.arrow",
      "datasets/lastfm/valid.arrow",
      "datasets/lastfm/tokenizer.json",
    ]) {
      expect(files).toContain(f);
    }
  });

  test("every packed prebuilt was built from the packed native sources", () => {
    const manifests = files.filter((f) => /^prebuilds\/[^/]+\/[^/]+\.json$/.test(f));
    expect(manifests.length).toBeGreaterThan(0);
    for (const m of manifests) {
      const manifest = JSON.parse(fs.readFileSync(path.join(root, m), "utf8")) as { nativeSourcesSha256?: string };
      expect({ manifest: m, nativeSourcesSha256: manifest.nativeSourcesSha256 }).toEqual({ manifest: m, nativeSourcesSha256: hash });
      expect(files).toContain(m.replace(/\.json$/, ".node"));
    }
  });

  test("no build leftovers, sources maps, tests or TypeScript sources", () => {
    const leftovers = files.filter(
      (f) =>
        /^(build|src|test|bench|node_modules|runs|sdpo-demo|coverage)\//.test(f) ||
        /(^|\/)(CMakeFiles|CMakeCache\.txt|\.ninja_\w+|build\.ninja|cmake_install\.cmake)/.test(f) ||
        /\.(o|obj|gch|pch|a|map|tgz|log)$/.test(f) ||
        (/\.ts$/.test(f) && !/\.d\.ts$/.test(f))
    );
    expect(leftovers).toEqual([]);
    const nodes = files.filter((f) => f.endsWith(".node"));
    expect(nodes.every((f) => f.startsWith("prebuilds/"))).toBe(true);
  });

  test(`the tarball is under ${MAX_PACKED_MB} MB (${MAX_UNPACKED_MB} MB unpacked)`, () => {
    expect(pack.size).toBeLessThan(MAX_PACKED_MB * 1024 * 1024);
    expect(pack.unpackedSize).toBeLessThan(MAX_UNPACKED_MB * 1024 * 1024);
  });
});
