#!/usr/bin/env node
// The package's `install` script: use a prebuilt binary when one fits this machine (same checks as the
// loader, child test-load included), otherwise build from source with native/tools/build.js and say why.
//   SDPO_BUILD_FROM_SOURCE=1 (or npm's --build-from-source) always builds; so does a git checkout.
// A source build in an installed package then deletes its intermediates (native/tools/prune-build.js): only
// build/Release/softmax_dpo.node stays, so node_modules does not keep ~600 MB of objects and precompiled header.
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const gitCheckout = fs.existsSync(path.join(root, ".git"));

function buildFromSource(why) {
  console.log(`softmax-dpo: building the native addon from source: ${why}`);
  const r = spawnSync(process.execPath, [path.join(__dirname, "build.js")], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status === null ? 1 : r.status);
  // An installed package keeps only the .node (a checkout keeps build/ for incremental rebuilds).
  if (!gitCheckout && process.env.SDPO_KEEP_BUILD !== "1") {
    const freed = require("./prune-build").pruneBuild(path.join(root, "build"));
    console.log(
      `softmax-dpo: removed the build's intermediates (${(freed / 1048576).toFixed(0)} MB of objects, precompiled header and ` +
        "CMake files); kept build/Release/softmax_dpo.node (SDPO_KEEP_BUILD=1 keeps them)"
    );
  }
  process.exit(0);
}

if (process.env.SDPO_BUILD_FROM_SOURCE === "1" || process.env.npm_config_build_from_source === "true") {
  buildFromSource("asked to (SDPO_BUILD_FROM_SOURCE / --build-from-source)");
}
// A git checkout (this repo's `npm ci`) always builds from source, as it did before prebuilts existed: a
// prebuilds/ folder left there by `npm run prebuild` must not stand in for the sources being worked on.
if (gitCheckout && process.env.SDPO_INSTALL_PREBUILT !== "1") {
  buildFromSource("this is a git checkout (SDPO_INSTALL_PREBUILT=1 tries the prebuilt binaries here too)");
}
const prebuildDir = path.join(root, "prebuilds", `${process.platform}-${process.arch}`);
if (!fs.existsSync(prebuildDir)) {
  buildFromSource(`this package has no prebuilt binaries for ${process.platform}-${process.arch}`);
}
const loaderPath = path.join(root, "dist", "src", "native-loader.js");
if (!fs.existsSync(loaderPath)) {
  buildFromSource("dist/ is not built, so the prebuilt binaries cannot be checked (run `npm run build:ts`)");
}

const loader = require(loaderPath);
// Only prebuilt binaries count here: an explicit SDPO_BINARY or an old build/Release must not skip the build.
const facts = { ...loader.gatherLoaderFacts(root, { ...process.env, SDPO_BINARY: "" }), sourceBuild: { path: "", mtimeMs: null } };
const ranked = loader.rankCandidates(facts);
const prebuilt = {
  candidates: ranked.candidates.filter((c) => c.kind === "prebuilt"),
  rejected: ranked.rejected.filter((r) => r.path !== ""),
};
const failedTestLoads = [];
try {
  const { report } = loader.pickBinary(prebuilt, (c) => {
    const why = loader.checkTestLoad(c, loader.testLoadInChild(c.path));
    if (why) failedTestLoads.push({ path: c.path, why });
    return why ? { ok: false, why } : { ok: true, value: c.path };
  });
  console.log(`softmax-dpo: using the prebuilt binary ${path.relative(root, report.binary)} (${report.reason}); not compiling.`);
  for (const r of report.rejected) console.log(`softmax-dpo:   passed over ${path.relative(root, r.path)}: ${r.why}`);
} catch {
  const all = [...prebuilt.rejected, ...failedTestLoads];
  const reasons = all.length ? all.map((r) => `\n  - ${path.relative(root, r.path)}: ${r.why}`).join("") : " none found";
  buildFromSource(`no prebuilt binary fits this machine:${reasons}`);
}
