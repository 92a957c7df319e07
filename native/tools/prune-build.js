// After a source build in an installed package (not a git checkout): delete build/'s intermediates (object
// files, the ~600 MB precompiled header, CMake's files) and keep only build/Release/softmax_dpo.node, which is
// all the loader uses. A later `npm rebuild softmax-dpo` configures and compiles from scratch.
"use strict";
const fs = require("fs");
const path = require("path");

const KEEP = path.join("Release", "softmax_dpo.node");

function sizeOf(p) {
  let st;
  try {
    st = fs.lstatSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((sum, name) => sum + sizeOf(path.join(p, name)), 0);
}

/** Removes everything under `buildDir` but Release/softmax_dpo.node; returns the bytes freed (0 when it is not there). */
function pruneBuild(buildDir) {
  const keep = path.join(buildDir, KEEP);
  if (!fs.existsSync(keep)) return 0;
  let freed = 0;
  const remove = (p) => {
    freed += sizeOf(p);
    fs.rmSync(p, { recursive: true, force: true });
  };
  for (const name of fs.readdirSync(buildDir)) if (name !== "Release") remove(path.join(buildDir, name));
  const release = path.join(buildDir, "Release");
  for (const name of fs.readdirSync(release)) if (name !== path.basename(KEEP)) remove(path.join(release, name));
  return freed;
}

module.exports = { pruneBuild };
if (require.main === module) {
  const dir = path.resolve(process.argv[2] || path.join(__dirname, "..", "..", "build"));
  console.log(`prune-build: freed ${(pruneBuild(dir) / 1048576).toFixed(0)} MB in ${dir}`);
}
