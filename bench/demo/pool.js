// Pools the results.json of several `sdpo demo` runs with distinct seeds (e.g. `--seed 44`, `--seed 45`, run on
// different machines) into one multi-seed table and paired comparisons, the same report a single
// `sdpo demo --seeds N` prints. Usage: node bench/demo/pool.js A/results.json B/results.json ... [--json OUT.json]
const fs = require("fs");
const root = process.env.SDPO_DIST || require("path").resolve(__dirname, "../../dist/src");
const { poolDemoRuns } = require(root + "/cli/demo-summary.js");
const args = process.argv.slice(2);
const jsonAt = args.indexOf("--json");
const jsonOut = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : undefined;
if (args.length === 0) {
  console.error("usage: node bench/demo/pool.js RESULTS.json... [--json OUT.json]");
  process.exit(2);
}
const runs = args.map((file) => JSON.parse(fs.readFileSync(file, "utf8")));
const pooled = poolDemoRuns(runs, args);
console.log(pooled.lines.join("\n"));
console.log(`\n${runs[0].testRows} rows; runs: ${args.join(", ")}`);
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ sources: args, seeds: pooled.seeds, results: pooled.results, comparisons: pooled.comparisons }, null, 2) + "\n");
