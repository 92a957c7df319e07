/**
 * `node -r test/ts-register.js`: requires of .ts files compile with swc (as jest does), so a child process
 * of a test can run the sources without a build.
 */
"use strict";
const fs = require("fs");
const swc = require("@swc/core");

require.extensions[".ts"] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, "utf8"), {
    filename,
    jsc: { target: "es2022", parser: { syntax: "typescript" } },
    module: { type: "commonjs" },
  });
  module._compile(code, filename);
};
