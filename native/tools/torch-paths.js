#!/usr/bin/env node
// libtorch include and link flags for binding.gyp, found in the same order as CMakeLists.txt:
// LIBTORCH, Torch_DIR, python3's torch, the system (Debian's libtorch-dev).
"use strict";
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");

function fromPrefix(prefix, source) {
  const inc = path.join(prefix, "include");
  if (!fs.existsSync(path.join(inc, "torch", "csrc", "api", "include"))) return null;
  return { include: [inc, path.join(inc, "torch", "csrc", "api", "include")], lib: path.join(prefix, "lib"), source };
}
function find() {
  if (process.env.LIBTORCH) return fromPrefix(process.env.LIBTORCH, "LIBTORCH");
  if (process.env.Torch_DIR) {
    const r = fromPrefix(path.resolve(process.env.Torch_DIR, "..", "..", ".."), "Torch_DIR");
    if (r) return r;
  }
  const py = spawnSync("python3", ["-c", "import torch, os; print(os.path.dirname(torch.__file__))"], { encoding: "utf8" });
  if (py.status === 0) {
    const r = fromPrefix(py.stdout.trim(), "python3");
    if (r) return r;
  }
  if (fs.existsSync("/usr/include/torch/csrc/api/include")) {
    return { include: ["/usr/include", "/usr/include/torch/csrc/api/include"], lib: "/usr/lib/x86_64-linux-gnu", source: "system" };
  }
  return null;
}
const found = find();
if (!found) {
  console.error("softmax-dpo: libtorch not found (looked at LIBTORCH, Torch_DIR, python3's torch, the system). " +
    "On Debian/Ubuntu: sudo apt-get install libtorch-dev libopenblas0-pthread");
  process.exit(1);
}
const what = process.argv[2];
if (what === "include") console.log(found.include.join("\n"));
else if (what === "libs") console.log([`-L${found.lib}`, `-Wl,-rpath,${found.lib}`, "-ltorch", "-ltorch_cpu", "-lc10"].join("\n"));
else console.log(JSON.stringify(found));
