// One demo run with a changed recipe, for tuning issue 11's recipe on the valid split: CFG is a JSON object merged
// into DEMO_RECIPE (nested sft/dpo/sdpo merged too), OUT the output folder, SEED the seed. Prints one JSON line per
// method with HR@1, ValidRatio and rank HR@1, and leaves the demo's results.json in OUT for bench/demo/pool.js.
// RESUME=1 keeps the models already in OUT (e.g. a copied sft/ folder, to vary only the preference stage).
// Usage: CFG='{"copyRows":0.5}' SEED=44 OUT=/tmp/v1 SDPO_NUM_THREADS=1 node bench/recipe/demo-variant.js
const root = process.env.SDPO_DIST || require("path").resolve(__dirname, "../../dist/src");
const { runDemo } = require(root + "/cli/commands/demo.js");
const { DEMO_RECIPE } = require(root + "/cli/demo-recipe.js");
const cfg = JSON.parse(process.env.CFG || "{}");
const recipe = { ...DEMO_RECIPE, baselines: [], ...cfg };
for (const stage of ["sft", "dpo", "sdpo"]) recipe[stage] = { ...DEMO_RECIPE[stage], ...(cfg[stage] || {}) };
const quiet = { write: () => true };
runDemo({ out: process.env.OUT, seed: Number(process.env.SEED || 42), overwrite: !process.env.RESUME, resume: Boolean(process.env.RESUME) }, { out: quiet, err: process.env.VERBOSE ? process.stderr : quiet }, recipe)
  .then((r) => {
    for (const [name, results] of Object.entries(r.perSeed)) {
      const m = results[0];
      console.log(JSON.stringify({ cfg, seed: Number(process.env.SEED || 42), method: name, hr1: +m.hr1.toFixed(4), validRatio: +m.validRatio.toFixed(4), rankHr1: +m.rankHr1.toFixed(4), seconds: Math.round(r.seconds.total) }));
    }
  })
  .catch((e) => { console.error(e); process.exit(1); });
