#!/usr/bin/env node
/**
 * Regenerates datasets/lastfm/{tokenizer.json,train.arrow,valid.arrow} from the raw JSON and templates
 * beside them. Run from the repo root after `npm run build:ts` (uses dist/).
 *
 *   node datasets/build.js           skip when the outputs match the stamp (inputs + code + outputs hashed)
 *   node datasets/build.js --force   rebuild
 *   node datasets/build.js --check   rebuild into a temp dir and compare with the files here (exit 1 if they differ)
 */
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

const root = path.resolve(__dirname, "..");
const dir = path.join(__dirname, "lastfm");
const stampPath = path.join(dir, "build-stamp.json");

function sha256(file) {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

function load() {
  const built = path.join(root, "dist", "src", "data", "lastfm_build.js");
  if (!fs.existsSync(built)) {
    console.error("datasets/build.js: dist/ is missing; run `npm run build:ts` first");
    process.exit(1);
  }
  return require(built);
}

/** What the outputs depend on: the raw inputs and the build settings. */
function inputStamp(LASTFM) {
  const inputs = {};
  for (const f of [LASTFM.raw, LASTFM.templates]) inputs[f] = sha256(path.join(dir, f));
  const { FORMAT_VERSION } = require(path.join(root, "dist", "src", "data", "schema.js"));
  return { inputs, format: FORMAT_VERSION, settings: { seed: LASTFM.seed, validRows: LASTFM.validRows, vocabSize: LASTFM.vocabSize, negatives: LASTFM.negatives } };
}

function outputStamp(LASTFM, where) {
  const outputs = {};
  for (const f of LASTFM.outputs) {
    const p = path.join(where, f);
    outputs[f] = fs.existsSync(p) ? sha256(p) : null;
  }
  return outputs;
}

async function main() {
  const args = process.argv.slice(2);
  const { buildLastfm, LASTFM } = load();
  if (args.includes("--check")) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-lastfm-"));
    try {
      await buildLastfm(dir, tmp);
      const fresh = outputStamp(LASTFM, tmp);
      const here = outputStamp(LASTFM, dir);
      const differ = LASTFM.outputs.filter((f) => fresh[f] !== here[f]);
      if (differ.length > 0) {
        console.error(`datasets/lastfm: regenerated ${differ.join(", ")} differ from the committed files`);
        process.exit(1);
      }
      console.log("datasets/lastfm: regeneration is byte-identical");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return;
  }
  const want = inputStamp(LASTFM);
  if (!args.includes("--force") && fs.existsSync(stampPath)) {
    const stamp = JSON.parse(fs.readFileSync(stampPath, "utf8"));
    const current =
      JSON.stringify({ inputs: stamp.inputs, format: stamp.format, settings: stamp.settings }) === JSON.stringify(want) &&
      JSON.stringify(stamp.outputs) === JSON.stringify(outputStamp(LASTFM, dir));
    if (current) {
      console.log("datasets/lastfm: up to date");
      return;
    }
  }
  const t0 = Date.now();
  const counts = await buildLastfm(dir, dir);
  fs.writeFileSync(stampPath, JSON.stringify({ ...want, outputs: outputStamp(LASTFM, dir) }, null, 2) + "\n");
  console.log(`datasets/lastfm: train ${counts.train} rows, valid ${counts.valid} rows (${Date.now() - t0} ms)`);
}

main().catch((err) => {
  console.error(`datasets/build.js: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
