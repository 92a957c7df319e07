// sha256 of the addon's native sources (every .cpp/.cc/.h/.hpp/.cu/.cuh under native/ except the files CMake
// generates, plus CMakeLists.txt), by relative path and content. prebuild.js records it in each manifest; the
// loader passes over a prebuilt made from other sources (its bindings may not match this package's code).
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const GENERATED = new Set(["native/torch_compat.h", "native/torch_pch.h"]);

function nativeSourcesHash(root) {
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cpp|cc|h|hpp|cu|cuh)$/.test(e.name)) files.push(path.relative(root, p).split(path.sep).join("/"));
    }
  };
  walk(path.join(root, "native"));
  files.push("CMakeLists.txt");
  const hash = crypto.createHash("sha256");
  for (const rel of files.filter((f) => !GENERATED.has(f)).sort()) {
    hash.update(rel + "\0");
    hash.update(fs.readFileSync(path.join(root, rel)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

module.exports = { nativeSourcesHash };
if (require.main === module) console.log(nativeSourcesHash(process.argv[2] || path.resolve(__dirname, "..", "..")));
