#!/usr/bin/env node
// `npm run prebuild`: builds the addon (or reuses build/Release when it is newer than every native source)
// and copies it to prebuilds/<platform>-<arch>/softmax_dpo.torch<major>.<minor>.<cpu|cuXYZ>.node, with a JSON
// manifest beside it that the loader (src/native-loader.ts) and the install script match against this machine.
//
// It produces whichever binary the current libtorch gives: on this CPU machine, the Debian libtorch CPU binary;
// on a GPU machine with a CUDA libtorch (LIBTORCH, Torch_DIR or python3's torch), the CUDA binary.
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const { nativeSourcesHash } = require("./sources-hash");
const { excludeStalePrebuilts } = require("./stale-prebuilts");

const root = path.resolve(__dirname, "..", "..");
const built = path.join(root, "build", "Release", "softmax_dpo.node");

function newestSourceMtime() {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(cpp|cc|h|hpp|cu|cuh)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  };
  walk(path.join(root, "native"));
  return Math.max(newest, fs.statSync(path.join(root, "CMakeLists.txt")).mtimeMs);
}

function isCurrent() {
  if (!fs.existsSync(built)) return false;
  return fs.statSync(built).mtimeMs >= newestSourceMtime();
}

if (process.env.SDPO_PREBUILD_REBUILD === "1" || !isCurrent()) {
  console.log("prebuild: build/Release is missing or older than native/ sources; building with cmake-js");
  const r = spawnSync(process.execPath, [path.join(__dirname, "build.js")], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status || 1);
} else {
  console.log("prebuild: reusing build/Release/softmax_dpo.node (newer than every native source)");
}

// Build facts, from the binary itself (in a child: this script must not depend on it loading).
const probe = spawnSync(
  process.execPath,
  ["-e", "process.stdout.write(JSON.stringify(require(process.argv[1]).buildInfo()))", built],
  { encoding: "utf8" }
);
if (probe.status !== 0) {
  console.error(`prebuild: the built addon does not load:\n${probe.stderr}`);
  process.exit(1);
}
const info = JSON.parse(probe.stdout);

// RPATH: the folders the binary finds its libraries in; the torch one is the entry holding libtorch.
function rpathOf(file) {
  const r = spawnSync("readelf", ["-d", file], { encoding: "utf8" });
  const m = r.status === 0 ? /\((?:RPATH|RUNPATH)\)\s+Library (?:rpath|runpath): \[([^\]]*)\]/.exec(r.stdout) : null;
  if (m) return m[1];
  // No readelf: the same folder CMake put in the RPATH.
  const lib = /^TORCH_LIBRARY:[A-Z]+=(.*)$/m.exec(cmakeCache());
  return lib ? path.dirname(lib[1]) : "";
}
function torchLibDirOf(rpath) {
  const dirs = rpath.split(":").filter(Boolean);
  const hasTorch = (d) => {
    try {
      return fs.readdirSync(d).some((f) => /^libtorch(_cpu)?\.so/.test(f));
    } catch {
      return false;
    }
  };
  return dirs.find(hasTorch) || dirs[0] || "";
}
function cmakeCache() {
  try {
    return fs.readFileSync(path.join(root, "build", "CMakeCache.txt"), "utf8");
  } catch {
    return "";
  }
}

// The CUDA version of the libtorch linked against (what a user's libtorch must match): python torch's
// version.py or a libtorch zip's build-version tag, else the nvcc that compiled the kernels.
function cudaVersion(torchLibDir) {
  if (!info.cudaCompiled) return null;
  const prefix = path.dirname(torchLibDir);
  const read = (f) => {
    try {
      return fs.readFileSync(path.join(prefix, f), "utf8");
    } catch {
      return "";
    }
  };
  const py = /^cuda\s*(?::[^=]*)?=\s*'(\d+\.\d+)/m.exec(read("version.py"));
  if (py) return py[1];
  const tag = /\+cu(\d+)(\d)\s*$/.exec(read("build-version"));
  if (tag) return `${tag[1]}.${tag[2]}`;
  const nvccPath = (/^CMAKE_CUDA_COMPILER:[A-Z]+=(.*)$/m.exec(cmakeCache()) || [])[1] || "nvcc";
  const nvcc = spawnSync(nvccPath, ["--version"], { encoding: "utf8" });
  const m = nvcc.status === 0 ? /release (\d+\.\d+)/.exec(nvcc.stdout) : null;
  return m ? m[1] : null;
}

// The shared libraries the binary names (DT_NEEDED): what a machine must have for it to load.
function neededOf(file) {
  const r = spawnSync("readelf", ["-d", file], { encoding: "utf8" });
  if (r.status !== 0) return null;
  return [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
}

// The system package that holds the linked libtorch (Debian/Ubuntu's libtorch1.13 for the CPU prebuilt), or null.
function torchPackageOf(torchLibDir, needed) {
  const lib = (needed || []).find((n) => /^libtorch\.so/.test(n)) || "libtorch.so";
  const file = path.join(torchLibDir, lib);
  const owner = spawnSync("dpkg-query", ["-S", file], { encoding: "utf8" });
  const m = owner.status === 0 ? /^([^:\s]+)(?::[^:\s]+)?: /.exec(owner.stdout) : null;
  if (!m) return null;
  const version = spawnSync("dpkg-query", ["-W", "-f=${Version}", m[1]], { encoding: "utf8" });
  return { manager: "dpkg", name: m[1], version: version.status === 0 ? version.stdout.trim() : null };
}

const rpath = rpathOf(built);
const torchLibDir = torchLibDirOf(rpath);
const [major, minor] = info.torchVersion.split(".");
const cuda = cudaVersion(torchLibDir);
const flavor = info.cudaCompiled ? `cu${(cuda || "").replace(".", "")}` : "cpu";
if (info.cudaCompiled && !cuda) {
  console.error("prebuild: CUDA binary but no CUDA version found (torch version.py, build-version, nvcc)");
  process.exit(1);
}
const name = `softmax_dpo.torch${major}.${minor}.${flavor}`;
const needed = neededOf(built);
const torchPackage = torchPackageOf(torchLibDir, needed);
// One line for people: what this binary needs on a machine (the loader's own checks use the fields above).
const requires =
  `libtorch ${major}.${minor} ${info.cudaCompiled ? `with CUDA ${cuda}` : "(CPU)"} in ${torchLibDir}` +
  (torchPackage ? ` (${torchPackage.name} package, built against ${torchPackage.version}; Debian/Ubuntu: apt-get install ${torchPackage.name})` : "") +
  "; elsewhere, put a libtorch of the same version on LD_LIBRARY_PATH";
const outDir = path.join(root, "prebuilds", `${process.platform}-${process.arch}`);
fs.mkdirSync(outDir, { recursive: true });
const outNode = path.join(outDir, `${name}.node`);
fs.copyFileSync(built, outNode);
// Same mtime as build/Release: the loader prefers a source build at least as new as a prebuilt (a developer's
// checkout after `npm run build`, which npm runs after this script as its "pre" hook), so keep them equal.
const builtStat = fs.statSync(built);
fs.utimesSync(outNode, builtStat.atime, builtStat.mtime);
const manifest = {
  file: `${name}.node`,
  platform: process.platform,
  arch: process.arch,
  torchVersion: info.torchVersion,
  cuda: info.cudaCompiled,
  cudaVersion: cuda,
  cxx11Abi: info.cxx11Abi,
  torchLibDir,
  rpath,
  torchSource: info.torchSource,
  napiVersion: info.napiVersion,
  requires,
  needed,
  torchPackage,
  builtAt: new Date().toISOString(),
  nativeSourcesSha256: nativeSourcesHash(root),
};
fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(manifest, null, 2) + "\n");
console.log(`prebuild: wrote ${path.relative(root, outNode)} (${(fs.statSync(outNode).size / 1024).toFixed(0)} KiB)`);
console.log(JSON.stringify(manifest, null, 2));
for (const s of excludeStalePrebuilts(root)) console.log(`prebuild: prebuilds/${s.dir}/${s.file} stays out of npm pack: ${s.why}`);
