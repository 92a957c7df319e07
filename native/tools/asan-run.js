#!/usr/bin/env node
// Runs test files against the AddressSanitizer build (`npm run build:asan` first): Node itself is not
// instrumented, so libasan is preloaded and the loader is pointed at build/asan/Release/softmax_dpo.node
// (SDPO_BINARY; child processes of the tests inherit both). Leak checking is off (Node keeps its heap to the
// end by design); allocator_may_return_null lets an absurd allocation fail as libtorch's error, as it does
// without ASan, instead of ASan aborting on it. Any ASan report ends the process with status 86.
//   npm run test:asan [-- jest arguments]   default: the op tests, the model errors and both fuzz tests
"use strict";
const { spawnSync, execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const binary = path.join(root, "build", "asan", "Release", "softmax_dpo.node");
if (!fs.existsSync(binary)) {
  console.error(`asan-run: ${binary} is missing; run \`npm run build:asan\` first`);
  process.exit(2);
}
const libasan = execFileSync(process.env.CXX || "g++", ["-print-file-name=libasan.so"], { encoding: "utf8" }).trim();
if (!path.isAbsolute(libasan) || !fs.existsSync(libasan)) {
  console.error(`asan-run: the compiler names no libasan.so (got '${libasan}')`);
  process.exit(2);
}
const DEFAULT_TESTS = ["test/ops", "test/model/errors.test.ts", "test/data/arrow-fuzz.test.ts", "test/model/model-fuzz.test.ts", "test/trainers/native_step.test.ts"];
const given = process.argv.slice(2);
const env = {
  ...process.env,
  LD_PRELOAD: [libasan, process.env.LD_PRELOAD].filter(Boolean).join(" "),
  ASAN_OPTIONS: ["detect_leaks=0", "allocator_may_return_null=1", "exitcode=86", "halt_on_error=1", process.env.ASAN_OPTIONS]
    .filter(Boolean)
    .join(":"),
  SDPO_BINARY: binary,
};
console.error(`asan-run: LD_PRELOAD=${env.LD_PRELOAD} SDPO_BINARY=${binary}`);
const jest = require.resolve("jest/bin/jest");
const result = spawnSync(process.execPath, [jest, "--runInBand", ...(given.length > 0 ? given : DEFAULT_TESTS)], { cwd: root, env, stdio: "inherit" });
process.exit(result.status === null ? 1 : result.status);
