/**
 * Facts about this machine for the binary loader (src/native-loader.ts): the libtorch installs it has
 * (found without loading them, in the build's order), the prebuilt manifests in the package, the source
 * build, and a test-load of a binary in a child process.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** The JSON written beside each prebuilt binary by native/tools/prebuild.js. */
export interface PrebuiltManifest {
  file: string;
  platform: string;
  arch: string;
  torchVersion: string;
  cuda: boolean;
  cudaVersion: string | null;
  cxx11Abi: boolean;
  /** The torch library folder the binary was linked against (its RPATH). */
  torchLibDir: string;
  /** The binary's whole RPATH (torchLibDir is the entry holding libtorch). */
  rpath?: string;
  torchSource: string;
  napiVersion: number;
  /** One line for people: the libtorch (and system package) the binary needs (absent in older manifests). */
  requires?: string;
  /** The shared libraries the binary names (DT_NEEDED); null when readelf was not there. */
  needed?: string[] | null;
  /** The system package holding the linked libtorch (Debian/Ubuntu: libtorch1.13), or null. */
  torchPackage?: { manager: string; name: string; version: string | null } | null;
  builtAt: string;
  /** native/tools/sources-hash.js of the sources it was built from (absent in older manifests). */
  nativeSourcesSha256?: string;
}

/** A libtorch found on this machine, without loading it. */
export interface LibtorchInstall {
  /** Where it was found: "LIBTORCH=...", "Torch_DIR=...", "python3 torch at ...", "system (...)". */
  source: string;
  libDir: string;
  version: string;
  cuda: boolean;
  cudaVersion: string | null;
  /** null when the install does not say (the compiler default, true for g++ >= 5, applies). */
  cxx11Abi: boolean | null;
}

export interface PrebuiltEntry {
  path: string;
  manifest?: PrebuiltManifest;
  /** Why the manifest could not be read, when it could not. */
  manifestError?: string;
  mtimeMs: number;
}

export interface LoaderFacts {
  explicitBinary?: string;
  prebuilts: PrebuiltEntry[];
  libtorchInstalls: LibtorchInstall[];
  sourceBuild: { path: string; mtimeMs: number | null };
  napiVersion: number;
  /** The same hash of this package's native sources; null when they are not there to hash. */
  nativeSourcesSha256: string | null;
  fileExists(file: string): boolean;
}

// ---------------------------------------------------------------------------

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

/** _GLIBCXX_USE_CXX11_ABI from a TorchConfig.cmake's TORCH_CXX_FLAGS; null when it does not say. */
function abiFromTorchConfig(configDirs: string[]): boolean | null {
  for (const dir of configDirs) {
    const text = readText(path.join(dir, "TorchConfig.cmake"));
    if (text === null) continue;
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(text);
    return m ? m[1] === "1" : null;
  }
  return null;
}

function versionFromHeader(includeDir: string): string | null {
  const text = readText(path.join(includeDir, "torch", "csrc", "api", "include", "torch", "version.h"));
  if (!text) return null;
  const part = (name: string) => new RegExp(`#define TORCH_VERSION_${name} (\\d+)`).exec(text)?.[1];
  const [major, minor, patch] = [part("MAJOR"), part("MINOR"), part("PATCH")];
  return major && minor ? `${major}.${minor}.${patch ?? "0"}` : null;
}

/** "2.5.1+cu124" -> "12.4"; null when there is no +cuNNN tag. */
function cudaFromVersionTag(version: string): string | null {
  const m = /\+cu(\d+)(\d)$/.exec(version);
  return m ? `${m[1]}.${m[2]}` : null;
}

/** A libtorch folder laid out like the libtorch zip or python's torch package (include/, lib/, share/cmake/Torch). */
export function libtorchFromPrefix(prefix: string, source: string): LibtorchInstall | null {
  const libDir = path.join(prefix, "lib");
  let libs: string[];
  try {
    libs = fs.readdirSync(libDir);
  } catch {
    return null;
  }
  if (!libs.some((f) => /^libtorch(_cpu)?\.so/.test(f))) return null;
  const pyVersion = readText(path.join(prefix, "version.py"));
  const pyTag = pyVersion ? /__version__\s*=\s*'([^']+)'/.exec(pyVersion)?.[1] : undefined;
  const pyCuda = pyVersion ? /^cuda\s*(?::[^=]*)?=\s*'([^']+)'/m.exec(pyVersion)?.[1] : undefined;
  const buildVersion = readText(path.join(prefix, "build-version"))?.trim();
  const version = pyTag ?? buildVersion ?? versionFromHeader(path.join(prefix, "include"));
  if (!version) return null;
  const cuda = libs.some((f) => /^libtorch_cuda\.so/.test(f));
  let cudaVersion: string | null = pyCuda ?? cudaFromVersionTag(version);
  if (cuda && !cudaVersion) {
    const cudart = libs.map((f) => /^libcudart[^.]*\.so\.(\d+)/.exec(f)).find(Boolean);
    cudaVersion = cudart ? cudart[1] : null;
  }
  return {
    source,
    libDir,
    version,
    cuda,
    cudaVersion: cuda ? cudaVersion : null,
    cxx11Abi: abiFromTorchConfig([path.join(prefix, "share", "cmake", "Torch")]),
  };
}

/** Debian/Ubuntu's libtorch-dev: versioned libraries in the multiarch folder, headers in /usr/include. */
function systemLibtorch(): LibtorchInstall | null {
  const multiarch = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  for (const libDir of [`/usr/lib/${multiarch}`, "/usr/lib", "/usr/local/lib"]) {
    let libs: string[];
    try {
      libs = fs.readdirSync(libDir);
    } catch {
      continue;
    }
    // The longest versioned name says the most (libtorch.so.1.13.0 over libtorch.so.1.13).
    const versioned = libs
      .map((f) => /^libtorch\.so\.(\d+\.\d+(?:\.\d+)?)$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => b[1].length - a[1].length)[0];
    if (!versioned && !libs.includes("libtorch.so")) continue;
    const version = versioned?.[1] ?? versionFromHeader(path.join(libDir, "..", "..", "include")) ?? versionFromHeader("/usr/include");
    if (!version) continue;
    const cuda = libs.some((f) => /^libtorch_cuda\.so/.test(f));
    return {
      source: `system (${libDir})`,
      libDir,
      version,
      cuda,
      cudaVersion: null,
      cxx11Abi: abiFromTorchConfig([path.join(libDir, "cmake", "Torch")]),
    };
  }
  return null;
}

/** python3's torch folder, found without importing torch (fast). */
function python3TorchDir(): string | null {
  const r = spawnSync(
    "python3",
    ["-c", "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')"],
    { encoding: "utf8", timeout: 10000 }
  );
  const dir = r.status === 0 ? r.stdout.trim() : "";
  return dir || null;
}

/** Every libtorch on this machine, looked for the way CMakeLists.txt does: LIBTORCH, Torch_DIR, python3's torch, the system. */
export function findLibtorchInstalls(env: NodeJS.ProcessEnv = process.env): LibtorchInstall[] {
  const found: LibtorchInstall[] = [];
  const add = (t: LibtorchInstall | null) => {
    if (t && !found.some((f) => path.resolve(f.libDir) === path.resolve(t.libDir))) found.push(t);
  };
  if (env.LIBTORCH) add(libtorchFromPrefix(env.LIBTORCH, `LIBTORCH=${env.LIBTORCH}`));
  if (env.Torch_DIR) add(libtorchFromPrefix(path.resolve(env.Torch_DIR, "..", "..", ".."), `Torch_DIR=${env.Torch_DIR}`));
  const pyTorch = python3TorchDir();
  if (pyTorch) add(libtorchFromPrefix(pyTorch, `python3 torch at ${pyTorch}`));
  add(systemLibtorch());
  return found;
}

export function prebuildDir(packageRoot: string): string {
  return path.join(packageRoot, "prebuilds", `${process.platform}-${process.arch}`);
}

export function readPrebuilts(packageRoot: string): PrebuiltEntry[] {
  const dir = prebuildDir(packageRoot);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const entries: PrebuiltEntry[] = [];
  for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
    const nodePath = path.join(dir, name.replace(/\.json$/, ".node"));
    let mtimeMs = 0;
    try {
      mtimeMs = fs.statSync(nodePath).mtimeMs;
    } catch {
      /* reported by rankCandidates */
    }
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as PrebuiltManifest;
      if (typeof manifest.torchVersion !== "string" || typeof manifest.cuda !== "boolean") throw new Error("missing torchVersion/cuda");
      entries.push({ path: nodePath, manifest, mtimeMs });
    } catch (err) {
      entries.push({ path: nodePath, manifestError: err instanceof Error ? err.message : String(err), mtimeMs });
    }
  }
  return entries;
}

/** native/tools/sources-hash.js over the package's native sources, or null when they are not there. */
function nativeSourcesOf(packageRoot: string): string | null {
  const tool = path.join(packageRoot, "native", "tools", "sources-hash.js");
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(tool) as { nativeSourcesHash(root: string): string }).nativeSourcesHash(packageRoot);
  } catch {
    return null;
  }
}

export function gatherLoaderFacts(packageRoot: string, env: NodeJS.ProcessEnv = process.env): LoaderFacts {
  const prebuilts = readPrebuilts(packageRoot);
  const sourcePath = path.join(packageRoot, "build", "Release", "softmax_dpo.node");
  let mtimeMs: number | null = null;
  try {
    mtimeMs = fs.statSync(sourcePath).mtimeMs;
  } catch {
    mtimeMs = null;
  }
  return {
    explicitBinary: env.SDPO_BINARY ? path.resolve(env.SDPO_BINARY) : undefined,
    prebuilts,
    // Looking for libtorch spawns python3 (~30 ms): only worth it when there is a prebuilt to match.
    libtorchInstalls: prebuilts.length ? findLibtorchInstalls(env) : [],
    sourceBuild: { path: sourcePath, mtimeMs },
    napiVersion: Number(process.versions.napi),
    nativeSourcesSha256: prebuilts.length ? nativeSourcesOf(packageRoot) : null,
    fileExists: (f) => fs.existsSync(f),
  };
}

export interface TestLoadResult {
  ok: boolean;
  /** buildInfo() of the binary when ok; the child's error (last stderr lines, signal or timeout) otherwise. */
  info?: { torchVersion: string; cudaCompiled: boolean };
  error?: string;
}

/** Loads `binary` in a child node and calls buildInfo(): a crash or hang there cannot reach this process. */
export function testLoadInChild(binary: string, timeoutMs = Number(process.env.SDPO_TEST_LOAD_TIMEOUT_MS) || 60000): TestLoadResult {
  const script =
    "const m = require(process.argv[1]); const i = m.buildInfo();" +
    "process.stdout.write(JSON.stringify({ torchVersion: i.torchVersion, cudaCompiled: i.cudaCompiled }));";
  const r = spawnSync(process.execPath, ["-e", script, path.resolve(binary)], { encoding: "utf8", timeout: timeoutMs });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
    return { ok: false, error: `test-load timed out after ${timeoutMs} ms` };
  }
  if (r.status === 0) {
    try {
      return { ok: true, info: JSON.parse(r.stdout) };
    } catch {
      return { ok: false, error: `test-load printed no build info: ${r.stdout.slice(0, 200)}` };
    }
  }
  const stderr = (r.stderr || "").split("\n").filter((l) => /rror|cannot|undefined symbol|not found/i.test(l));
  const detail = stderr.length ? stderr.slice(0, 2).join(" ").trim() : (r.stderr || "").trim().split("\n").slice(-2).join(" ");
  return { ok: false, error: `test-load failed (${r.signal ? `signal ${r.signal}` : `exit ${r.status}`}): ${detail}` };
}

/** The package root: src/ under jest, dist/src/ once compiled. */
export function packageRootFrom(dir: string): string {
  const twoUp = path.resolve(dir, "..", "..");
  return fs.existsSync(path.join(twoUp, "package.json")) ? twoUp : path.resolve(dir, "..");
}

