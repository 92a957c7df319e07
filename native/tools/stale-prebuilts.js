// Keeps prebuilts that were not built from this package's native sources out of the tarball: writes
// prebuilds/<platform>-<arch>/.npmignore naming them (npm honours an .npmignore below a `files` entry), or
// removes it when there are none. The binaries stay in the checkout; the loader would pass over them anyway
// (src/native-loader.ts: "built from other native sources"). Run by `npm run prebuild` and by prepack.
"use strict";
const fs = require("fs");
const path = require("path");
const { nativeSourcesHash } = require("./sources-hash");

const HEADER = "# Written by native/tools/stale-prebuilts.js: prebuilts not built from this package's native sources.\n";

function readManifest(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

/** Rewrites each prebuilds/<dir>/.npmignore; returns [{ dir, file, why }] for the prebuilts left out. */
function excludeStalePrebuilts(root, hash = nativeSourcesHash(root)) {
  const prebuilds = path.join(root, "prebuilds");
  const left = [];
  const dirs = fs.existsSync(prebuilds) ? fs.readdirSync(prebuilds, { withFileTypes: true }).filter((e) => e.isDirectory()) : [];
  for (const { name: dir } of dirs) {
    const full = path.join(prebuilds, dir);
    const lines = [];
    for (const name of fs.readdirSync(full).filter((n) => n.endsWith(".json")).sort()) {
      const manifest = readManifest(path.join(full, name));
      if (manifest && manifest.nativeSourcesSha256 === hash) continue;
      const why = !manifest
        ? "unreadable manifest"
        : manifest.nativeSourcesSha256
          ? `built from other native sources (${manifest.nativeSourcesSha256.slice(0, 12)}…, these are ${hash.slice(0, 12)}…)`
          : "its manifest records no sources hash";
      const base = name.replace(/\.json$/, "");
      left.push({ dir, file: `${base}.node`, why });
      lines.push(`/${base}.json`, `/${base}.node`);
    }
    const ignore = path.join(full, ".npmignore");
    if (lines.length) fs.writeFileSync(ignore, HEADER + lines.join("\n") + "\n");
    else fs.rmSync(ignore, { force: true });
  }
  return left;
}

module.exports = { excludeStalePrebuilts };
if (require.main === module) {
  for (const s of excludeStalePrebuilts(path.resolve(__dirname, "..", ".."))) console.log(`prebuilds/${s.dir}/${s.file}: left out of the tarball: ${s.why}`);
}
