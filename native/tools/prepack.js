#!/usr/bin/env node
// `prepack` (npm pack / npm publish run it first): makes what the tarball needs from the current sources.
//   1. dist/: a clean TypeScript build (no output of deleted sources survives);
//   2. the CPU prebuilt: reused when prebuilds/<platform>-<arch>/*.cpu.json records the sha256 of the current
//      native sources (native/tools/sources-hash.js), else built by `npm run prebuild` (cmake decides what to
//      recompile; a first build takes long: SDPO_BUILD_JOBS sets its parallel jobs);
//   3. prebuilds/*/.npmignore (native/tools/stale-prebuilts.js): keeps out of the tarball every prebuilt whose
//      manifest names other sources (a stale CUDA binary from an older commit: the loader would pass over it
//      anyway), so what ships was built from what ships. The binaries stay in the checkout.
// SDPO_PACK_NO_PREBUILD=1 skips step 2 (a tarball that compiles on install), with a warning.
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const { nativeSourcesHash } = require("./sources-hash");
const { excludeStalePrebuilts } = require("./stale-prebuilts");

const root = path.resolve(__dirname, "..", "..");
const platformDir = path.join(root, "prebuilds", `${process.platform}-${process.arch}`);

function run(what, args, env = process.env) {
  console.log(`prepack: ${what}`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit", env });
  if (r.status !== 0) {
    console.error(`prepack: ${what} failed (exit ${r.status === null ? r.signal : r.status})`);
    process.exit(r.status || 1);
  }
}

function readManifest(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

/** The CPU prebuilt of this platform built from `hash`, or null. */
function currentCpuPrebuilt(hash) {
  let names = [];
  try {
    names = fs.readdirSync(platformDir);
  } catch {
    return null;
  }
  for (const name of names.filter((n) => /\.cpu\.json$/.test(n))) {
    const manifest = readManifest(path.join(platformDir, name));
    const node = path.join(platformDir, name.replace(/\.json$/, ".node"));
    if (manifest && manifest.cuda === false && manifest.nativeSourcesSha256 === hash && fs.existsSync(node)) return { name, manifest, node };
  }
  return null;
}

const t0 = Date.now();
const hash = nativeSourcesHash(root);

// 1. dist/
fs.rmSync(path.join(root, "dist"), { recursive: true, force: true });
run("building dist/ (tsc -p tsconfig.build.json)", [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"]);
fs.chmodSync(path.join(root, "dist", "src", "cli", "main.js"), 0o755);

// 2. the CPU prebuilt
if (process.env.SDPO_PACK_NO_PREBUILD === "1") {
  console.warn("prepack: SDPO_PACK_NO_PREBUILD=1: not making the CPU prebuilt; installs of this tarball may compile from source");
} else {
  let cpu = currentCpuPrebuilt(hash);
  if (cpu) {
    console.log(`prepack: reusing ${path.relative(root, cpu.node)} (its manifest records the current native sources ${hash.slice(0, 12)}…)`);
  } else {
    // cmake-js rebuilds what changed (nothing, when build/ is current), rather than trusting build/Release's mtime.
    run("no up-to-date CPU prebuilt: npm run prebuild", [path.join(__dirname, "prebuild.js")], { ...process.env, SDPO_PREBUILD_REBUILD: "1" });
    cpu = currentCpuPrebuilt(hash);
    if (!cpu) {
      console.error(
        "prepack: `npm run prebuild` made no CPU prebuilt: the libtorch it found is not a CPU one (see its manifest above).\n" +
          "Build the CPU prebuilt against Debian's libtorch-dev (unset LIBTORCH / Torch_DIR, rm -rf build), or pack without one\n" +
          "with SDPO_PACK_NO_PREBUILD=1."
      );
      process.exit(1);
    }
  }
  console.log(`prepack: CPU prebuilt ${cpu.manifest.file}: ${cpu.manifest.requires || `libtorch ${cpu.manifest.torchVersion}`}`);
}

// 3. stale prebuilts stay out of the tarball
for (const s of excludeStalePrebuilts(root, hash)) console.log(`prepack: leaving prebuilds/${s.dir}/${s.file} (and its manifest) out of the tarball: ${s.why}`);
console.log(`prepack: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
