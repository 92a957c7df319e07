// Lets a child process (a data-parallel rank started by a test) require the TypeScript sources directly,
// compiled by the same swc that jest uses: `node -r test/distributed/swc-register.js src/cli/main.ts ...`.
"use strict";
const fs = require("fs");
const { transformSync } = require("@swc/core");

require.extensions[".ts"] = function compileTs(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, "utf8"), {
    filename,
    jsc: { target: "es2022", parser: { syntax: "typescript" } },
    module: { type: "commonjs" },
    sourceMaps: "inline",
  });
  module._compile(code, filename);
};
