#!/usr/bin/env node
// Builds the native addon from source with cmake-js (build/Release/softmax_dpo.node).
// Called by `npm install` when no prebuilt binary fits, and by `npm run build:native`.
"use strict";
const { spawnSync } = require("child_process");
const os = require("os");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const jobs = process.env.SDPO_BUILD_JOBS || String(Math.max(1, Math.min(os.cpus().length, 8)));
const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const args = [cmakeJs, "build", "--parallel", jobs, "--out", "build", "--config", "Release"];
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
