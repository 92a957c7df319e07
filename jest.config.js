/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } } }] },
  // libtorch ops on 2 cores: keep workers few so native threads are not oversubscribed.
  maxWorkers: 2,
  reporters: ["default", "<rootDir>/test/summary-reporter.js"],
  testTimeout: 120000,
};
