#!/usr/bin/env node
// Builds the native addon from source with cmake-js (build/Release/softmax_dpo.node).
// Called by `npm install` when no prebuilt binary fits, and by `npm run build:native`; `--asan` builds the
// AddressSanitizer variant into build/asan/ (`npm run build:asan`).
"use strict";
const { spawnSync } = require("child_process");
const os = require("os");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const jobs = process.env.SDPO_BUILD_JOBS || String(Math.max(1, Math.min(os.cpus().length, 8)));
const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
// --asan (`npm run build:asan`): the same addon under AddressSanitizer in build/asan/, for native/tools/asan-run.js.
const asan = process.argv.includes("--asan");
const args = [cmakeJs, "build", "--parallel", jobs, "--out", asan ? path.join("build", "asan") : "build", "--config", "Release"];
if (asan) {
  const flags = "-fsanitize=address -fno-omit-frame-pointer -g1";
  args.push(`--CDCMAKE_CXX_FLAGS=${flags}`, `--CDCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address`);
}
if (process.env.SDPO_CUDA_ARCH) args.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.SDPO_CUDA_ARCH}`);
const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
if (result.status !== 0) {
  console.error(
    "\nsoftmax-dpo: the native build failed. It needs cmake >= 3.18, a C++17 compiler and libtorch.\n" +
      "On Debian/Ubuntu, `npm run setup` installs them (libtorch-dev, libopenblas0-pthread, cmake, g++).\n" +
      "Or point LIBTORCH at an unpacked libtorch folder."
  );
  process.exit(result.status || 1);
}
