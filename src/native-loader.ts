/**
 * Which `.node` binary to load, and why.
 *
 * Candidates, in order:
 *   1. SDPO_BINARY (an explicit path; loaded as is);
 *   2. prebuilt CUDA binaries, only when a CUDA libtorch of the same major.minor is on this machine;
 *   3. prebuilt CPU binaries, only when a libtorch of the same major.minor is on this machine;
 *   4. build/Release (the source build).
 * A prebuilt binary is first test-loaded in a child process, so one whose libtorch is missing or
 * incompatible cannot take the user's process down. A build/Release at least as new as a prebuilt is a fresh
 * source build (a developer's checkout, or a user who rebuilt on purpose) and goes before it.
 *
 * The selection is pure (`rankCandidates`, `pickBinary`) over facts gathered separately
 * (`gatherLoaderFacts` in src/native-facts.ts), so tests can inject any machine. native/tools/install.js uses the same code.
 */
import * as path from "path";
import { gatherLoaderFacts, testLoadInChild, type LibtorchInstall, type LoaderFacts, type PrebuiltManifest, type TestLoadResult } from "./native-facts";

export {
  findLibtorchInstalls,
  gatherLoaderFacts,
  libtorchFromPrefix,
  packageRootFrom,
  prebuildDir,
  readPrebuilts,
  testLoadInChild,
} from "./native-facts";
export type { LibtorchInstall, LoaderFacts, PrebuiltEntry, PrebuiltManifest, TestLoadResult } from "./native-facts";

export type CandidateKind = "explicit" | "prebuilt" | "source";

export interface Candidate {
  path: string;
  kind: CandidateKind;
  /** Prebuilt binaries are test-loaded in a child first; explicit and source builds are not. */
  needsTestLoad: boolean;
  /** Why this candidate is in the list (becomes the load report's reason when it wins). */
  reason: string;
  manifest?: PrebuiltManifest;
  /** The lib folder of the libtorch on this machine that a prebuilt matched. */
  libtorchDir?: string;
}

export interface Rejection {
  path: string;
  why: string;
}

export interface NativeLoadReport {
  binary: string;
  reason: string;
  rejected: Rejection[];
}

export type TryResult<T> = { ok: true; value: T; note?: string } | { ok: false; why: string };

export function majorMinor(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m ? `${m[1]}.${m[2]}` : version;
}

function cudaMajor(version: string | null): string | null {
  return version ? version.split(".")[0] : null;
}

function describeInstall(t: LibtorchInstall): string {
  return `${t.version} ${t.cuda ? `CUDA ${t.cudaVersion ?? "?"}` : "CPU"} from ${t.source}`;
}

/** Why `manifest` cannot use any of `installs`, or the install it fits. */
export function matchLibtorch(
  manifest: PrebuiltManifest,
  installs: LibtorchInstall[]
): { install: LibtorchInstall } | { why: string } {
  const wanted = `libtorch ${majorMinor(manifest.torchVersion)}${manifest.cuda ? ` with CUDA ${manifest.cudaVersion ?? ""}`.trimEnd() : ""}`;
  const found = installs.length ? installs.map(describeInstall).join("; ") : "no libtorch found";
  const problems: string[] = [];
  for (const t of installs) {
    if (majorMinor(t.version) !== majorMinor(manifest.torchVersion)) continue;
    if (manifest.cuda && !t.cuda) {
      problems.push(`${t.source} is CPU-only`);
      continue;
    }
    const wantMajor = cudaMajor(manifest.cudaVersion);
    const haveMajor = cudaMajor(t.cudaVersion);
    if (manifest.cuda && wantMajor && haveMajor && wantMajor !== haveMajor) {
      problems.push(`${t.source} has CUDA ${t.cudaVersion}`);
      continue;
    }
    if (t.cxx11Abi !== null && t.cxx11Abi !== manifest.cxx11Abi) {
      problems.push(`${t.source} uses _GLIBCXX_USE_CXX11_ABI=${t.cxx11Abi ? 1 : 0}`);
      continue;
    }
    return { install: t };
  }
  const install = manifest.torchPackage ? ` (Debian/Ubuntu: apt-get install ${manifest.torchPackage.name})` : "";
  return { why: `needs ${wanted}${install}; ${problems.length ? `found ${problems.join("; ")}` : installs.length ? `found ${found}` : found} on this machine` };
}

/** Orders the candidates for this machine; candidates ruled out by the facts alone come back as rejections. */
export function rankCandidates(facts: LoaderFacts): { candidates: Candidate[]; rejected: Rejection[] } {
  const candidates: Candidate[] = [];
  const rejected: Rejection[] = [];

  if (facts.explicitBinary) {
    if (facts.fileExists(facts.explicitBinary)) {
      candidates.push({ path: facts.explicitBinary, kind: "explicit", needsTestLoad: false, reason: "SDPO_BINARY names it" });
    } else {
      rejected.push({ path: facts.explicitBinary, why: "SDPO_BINARY names it but the file does not exist" });
    }
  }

  const fitting: Candidate[] = [];
  for (const entry of facts.prebuilts) {
    const m = entry.manifest;
    if (!m) {
      rejected.push({ path: entry.path, why: `unreadable manifest: ${entry.manifestError ?? "missing"}` });
      continue;
    }
    if (!facts.fileExists(entry.path)) {
      rejected.push({ path: entry.path, why: "its manifest exists but the .node file does not" });
      continue;
    }
    if (m.napiVersion > facts.napiVersion) {
      rejected.push({ path: entry.path, why: `needs Node-API ${m.napiVersion}; this Node has ${facts.napiVersion}` });
      continue;
    }
    if (m.nativeSourcesSha256 && facts.nativeSourcesSha256 && m.nativeSourcesSha256 !== facts.nativeSourcesSha256) {
      rejected.push({ path: entry.path, why: "built from other native sources than this package's (a stale prebuilt: rebuild it with `npm run prebuild`)" });
      continue;
    }
    const match = matchLibtorch(m, facts.libtorchInstalls);
    if ("why" in match) {
      rejected.push({ path: entry.path, why: match.why });
      continue;
    }
    const t = match.install;
    let reason = `prebuilt for libtorch ${m.torchVersion} ${m.cuda ? `CUDA ${m.cudaVersion ?? ""}`.trimEnd() : "CPU"}; matches ${describeInstall(t)}`;
    if (path.resolve(t.libDir) !== path.resolve(m.torchLibDir)) {
      reason += ` (linked against ${m.torchLibDir}, found at ${t.libDir})`;
    }
    fitting.push({ path: entry.path, kind: "prebuilt", needsTestLoad: true, reason, manifest: m, libtorchDir: t.libDir });
  }
  // CUDA binaries first, then newer torch first.
  fitting.sort((a, b) => {
    const ca = a.manifest!.cuda ? 1 : 0;
    const cb = b.manifest!.cuda ? 1 : 0;
    if (ca !== cb) return cb - ca;
    return b.manifest!.torchVersion.localeCompare(a.manifest!.torchVersion, undefined, { numeric: true });
  });

  const build = facts.sourceBuild;
  let source: Candidate | undefined;
  if (build.mtimeMs !== null) {
    source = { path: build.path, kind: "source", needsTestLoad: false, reason: "source build (build/Release)" };
  } else {
    rejected.push({ path: build.path, why: "not built (no source build)" });
  }

  // A source build at least as new as a prebuilt was built on purpose on this machine: it goes first.
  const ordered: Candidate[] = [];
  let sourcePlaced = false;
  for (const c of fitting) {
    const entry = facts.prebuilts.find((p) => p.path === c.path)!;
    if (source && !sourcePlaced && build.mtimeMs! >= entry.mtimeMs) {
      ordered.push({ ...source, reason: `source build (build/Release), not older than the prebuilt ${path.basename(c.path)}` });
      sourcePlaced = true;
    }
    ordered.push(c);
  }
  if (source && !sourcePlaced) ordered.push(source);
  candidates.push(...ordered);
  return { candidates, rejected };
}

/**
 * Tries the candidates in order and returns the first that loads, with the report of why;
 * throws an Error listing every rejected candidate when none does.
 */
export function pickBinary<T>(
  ranked: { candidates: Candidate[]; rejected: Rejection[] },
  tryCandidate: (c: Candidate) => TryResult<T>
): { value: T; report: NativeLoadReport } {
  const rejected = [...ranked.rejected];
  for (const c of ranked.candidates) {
    const r = tryCandidate(c);
    if (r.ok) {
      return { value: r.value, report: { binary: c.path, reason: r.note ? `${c.reason}; ${r.note}` : c.reason, rejected } };
    }
    rejected.push({ path: c.path, why: r.why });
  }
  throw new Error(noBinaryMessage(rejected));
}

export function noBinaryMessage(rejected: Rejection[]): string {
  const lines = rejected.map((r) => `  - ${r.path}: ${r.why}`);
  return (
    "softmax-dpo: no native binary could be loaded. Candidates tried:\n" +
    (lines.length ? lines.join("\n") : "  (none)") +
    "\nOnce libtorch is there, `npm rebuild softmax-dpo` picks a prebuilt binary that fits or builds one from source " +
    "(`SDPO_BUILD_FROM_SOURCE=1 npm rebuild softmax-dpo` always builds; that needs cmake, a C++17 compiler and libtorch: " +
    "on Debian/Ubuntu, apt-get install libtorch-dev cmake g++, or point LIBTORCH at an unpacked libtorch folder). " +
    "Or set SDPO_BINARY to a .node file built for this machine. (In a clone of the softmax-dpo repository: `npm run build:native`.)"
  );
}

/** The check applied to a prebuilt after its child test-load: it must report what its manifest says. */
export function checkTestLoad(c: Candidate, result: TestLoadResult): string | null {
  const m = c.manifest;
  if (!result.ok) {
    const error = result.error ?? "test-load failed";
    // The usual cause: libtorch is on this machine, but not in the folder the binary was linked against.
    if (m && c.libtorchDir && path.resolve(c.libtorchDir) !== path.resolve(m.torchLibDir) && /cannot open shared object/.test(error)) {
      return `${error} (it looks for libtorch in ${m.torchLibDir}; set LD_LIBRARY_PATH=${c.libtorchDir} to use yours)`;
    }
    return error;
  }
  if (m && result.info) {
    if (majorMinor(result.info.torchVersion) !== majorMinor(m.torchVersion)) {
      return `test-load reports libtorch ${result.info.torchVersion}, its manifest says ${m.torchVersion}`;
    }
    if (result.info.cudaCompiled !== m.cuda) {
      return `test-load reports cudaCompiled=${result.info.cudaCompiled}, its manifest says ${m.cuda}`;
    }
  }
  return null;
}

/** Loads the best binary for this machine: native()'s work, minus caching. */
export function loadNativeBinary<T>(
  packageRoot: string,
  requireBinary: (file: string) => T,
  env: NodeJS.ProcessEnv = process.env
): { value: T; report: NativeLoadReport } {
  const ranked = rankCandidates(gatherLoaderFacts(packageRoot, env));
  return pickBinary(ranked, (c): TryResult<T> => {
    if (c.needsTestLoad) {
      const why = checkTestLoad(c, testLoadInChild(c.path));
      if (why) return { ok: false, why };
    }
    try {
      return { ok: true, value: requireBinary(c.path), note: c.needsTestLoad ? "child test-load passed" : undefined };
    } catch (err) {
      return { ok: false, why: `load failed: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}` };
    }
  });
}
