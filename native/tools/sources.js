#!/usr/bin/env node
// Lists the addon's C++ sources for binding.gyp (gyp has no glob), the same set CMake globs.
"use strict";
const fs = require("fs");
const path = require("path");
const root = path.resolve(__dirname, "..", "..");
function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith(".cpp") ? [path.relative(root, p)] : [];
  });
}
console.log(walk(path.join(root, "native")).sort().join("\n"));
