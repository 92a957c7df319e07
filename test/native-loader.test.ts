import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  checkTestLoad,
  gatherLoaderFacts,
  libtorchFromPrefix,
  loadNativeBinary,
  pickBinary,
  rankCandidates,
  testLoadInChild,
  type Candidate,
  type LibtorchInstall,
  type LoaderFacts,
  type PrebuiltManifest,
  type TestLoadResult,
} from "../src/native-loader";

const dir = "/pkg/prebuilds/linux-x64";
const cudaPath = `${dir}/softmax_dpo.torch2.11.cu130.node`;
const cpuPath = `${dir}/softmax_dpo.torch1.13.cpu.node`;
const sourcePath = "/pkg/build/Release/softmax_dpo.node";

function manifest(over: Partial<PrebuiltManifest>): PrebuiltManifest {
  return {
    file: "x.node",
    platform: "linux",
    arch: "x64",
    torchVersion: "1.13.0",
    cuda: false,
    cudaVersion: null,
    cxx11Abi: true,
    torchLibDir: "/usr/lib/x86_64-linux-gnu",
    torchSource: "system",
    napiVersion: 8,
    builtAt: "2026-01-01T00:00:00Z",
    ...over,
  };
}

const cudaManifest = manifest({
  torchVersion: "2.11.0+cu130",
  cuda: true,
  cudaVersion: "13.0",
  torchLibDir: "/opt/venv/lib/python3.12/site-packages/torch/lib",
});
const cpuManifest = manifest({});

const debianTorch: LibtorchInstall = {
  source: "system (/usr/lib/x86_64-linux-gnu)",
  libDir: "/usr/lib/x86_64-linux-gnu",
  version: "1.13.0",
  cuda: false,
  cudaVersion: null,
  cxx11Abi: true,
};
const pipCudaTorch: LibtorchInstall = {
  source: "python3 torch at /home/u/venv/torch",
  libDir: "/home/u/venv/torch/lib",
  version: "2.11.0+cu130",
  cuda: true,
  cudaVersion: "13.0",
  cxx11Abi: true,
};

function facts(over: Omit<Partial<LoaderFacts>, "nativeSourcesSha256"> & { existing?: string[]; nativeSourcesSha256?: string | null }): LoaderFacts {
  const existing = new Set(over.existing ?? [cudaPath, cpuPath, sourcePath]);
  return {
    prebuilts: [
      { path: cudaPath, manifest: cudaManifest, mtimeMs: 1000 },
      { path: cpuPath, manifest: cpuManifest, mtimeMs: 1000 },
    ],
    libtorchInstalls: [debianTorch],
    sourceBuild: { path: sourcePath, mtimeMs: 500 },
    napiVersion: 9,
    nativeSourcesSha256: "this-package",
    fileExists: (f) => existing.has(f),
    ...over,
  };
}

const paths = (cs: Candidate[]) => cs.map((c) => c.path);

describe("rankCandidates", () => {
  test("CUDA prebuilt is skipped without a CUDA libtorch, and the reason names what was found", () => {
    const { candidates, rejected } = rankCandidates(facts({}));
    expect(paths(candidates)).toEqual([cpuPath, sourcePath]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0].path).toBe(cudaPath);
    expect(rejected[0].why).toMatch(/needs libtorch 2\.11 with CUDA 13\.0/);
    expect(rejected[0].why).toMatch(/1\.13\.0 CPU from system/);
  });

  test("order with everything present: SDPO_BINARY, CUDA prebuilt, CPU prebuilt, build/Release", () => {
    const explicit = "/tmp/mine.node";
    const f = facts({ explicitBinary: explicit, libtorchInstalls: [pipCudaTorch, debianTorch], existing: [explicit, cudaPath, cpuPath, sourcePath] });
    const { candidates, rejected } = rankCandidates(f);
    expect(paths(candidates)).toEqual([explicit, cudaPath, cpuPath, sourcePath]);
    expect(candidates.map((c) => c.needsTestLoad)).toEqual([false, true, true, false]);
    expect(rejected).toEqual([]);
    // The CUDA binary was linked elsewhere than where this machine has torch: the reason says so.
    expect(candidates[1].reason).toMatch(/linked against \/opt\/venv.*found at \/home\/u\/venv\/torch\/lib/);
  });

  test("a CPU prebuilt whose manifest names its system package says what to install when no libtorch is found", () => {
    const withPackage = { ...cpuManifest, torchPackage: { manager: "dpkg", name: "libtorch1.13", version: "1.13.1+dfsg-4" } };
    const { rejected } = rankCandidates(
      facts({ prebuilts: [{ path: cpuPath, manifest: withPackage, mtimeMs: 1000 }], libtorchInstalls: [], sourceBuild: { path: sourcePath, mtimeMs: null } })
    );
    expect(rejected.find((r) => r.path === cpuPath)!.why).toBe("needs libtorch 1.13 (Debian/Ubuntu: apt-get install libtorch1.13); no libtorch found on this machine");
  });

  test("a CPU-only libtorch of the right version does not satisfy the CUDA binary", () => {
    const cpuTorch211 = { ...pipCudaTorch, cuda: false, cudaVersion: null, version: "2.11.0+cpu" };
    const { rejected } = rankCandidates(facts({ libtorchInstalls: [cpuTorch211] }));
    expect(rejected.find((r) => r.path === cudaPath)!.why).toMatch(/is CPU-only/);
  });

  test("CUDA major, C++ ABI and Node-API mismatches are rejected with the reason", () => {
    const cu12 = { ...pipCudaTorch, cudaVersion: "12.8" };
    expect(rankCandidates(facts({ libtorchInstalls: [cu12] })).rejected[0].why).toMatch(/has CUDA 12\.8/);
    const oldAbi = { ...debianTorch, cxx11Abi: false };
    const r = rankCandidates(facts({ libtorchInstalls: [oldAbi] })).rejected.find((x) => x.path === cpuPath)!;
    expect(r.why).toMatch(/_GLIBCXX_USE_CXX11_ABI=0/);
    const oldNode = rankCandidates(facts({ napiVersion: 7 })).rejected;
    expect(oldNode.map((x) => x.why)).toEqual([expect.stringMatching(/Node-API 8.*has 7/), expect.stringMatching(/Node-API 8.*has 7/)]);
  });

  test("a prebuilt built from other native sources is passed over as stale; one without the record is not", () => {
    const stale = { ...cudaManifest, nativeSourcesSha256: "other-sources" };
    const current = { ...cpuManifest, nativeSourcesSha256: "this-package" };
    const { candidates, rejected } = rankCandidates(
      facts({ libtorchInstalls: [debianTorch, pipCudaTorch], prebuilts: [{ path: cudaPath, manifest: stale, mtimeMs: 1000 }, { path: cpuPath, manifest: current, mtimeMs: 1000 }] })
    );
    expect(rejected.find((r) => r.path === cudaPath)!.why).toMatch(/other native sources .*npm run prebuild/);
    expect(paths(candidates)).toEqual([cpuPath, sourcePath]);
    // Sources not there to hash (null): the record cannot be checked, the prebuilt stays.
    const unknown = rankCandidates(facts({ libtorchInstalls: [pipCudaTorch], nativeSourcesSha256: null, prebuilts: [{ path: cudaPath, manifest: stale, mtimeMs: 1000 }] }));
    expect(paths(unknown.candidates)).toEqual([cudaPath, sourcePath]);
  });

  test("no libtorch at all: both prebuilts rejected, build/Release still a candidate", () => {
    const { candidates, rejected } = rankCandidates(facts({ libtorchInstalls: [] }));
    expect(paths(candidates)).toEqual([sourcePath]);
    expect(rejected.map((r) => r.why)).toEqual([expect.stringMatching(/no libtorch found/), expect.stringMatching(/no libtorch found/)]);
  });

  test("a build/Release at least as new as a prebuilt goes before it", () => {
    const { candidates } = rankCandidates(facts({ sourceBuild: { path: sourcePath, mtimeMs: 1000 } }));
    expect(paths(candidates)).toEqual([sourcePath, cpuPath]);
    expect(candidates[0].reason).toMatch(/not older than the prebuilt softmax_dpo\.torch1\.13\.cpu\.node/);
  });

  test("missing files and unreadable manifests are rejected, not tried", () => {
    const f = facts({
      explicitBinary: "/nope.node",
      existing: [sourcePath],
      prebuilts: [
        { path: cpuPath, manifest: cpuManifest, mtimeMs: 0 },
        { path: `${dir}/broken.node`, manifestError: "Unexpected token", mtimeMs: 0 },
      ],
    });
    const { candidates, rejected } = rankCandidates(f);
    expect(paths(candidates)).toEqual([sourcePath]);
    expect(rejected).toEqual([
      { path: "/nope.node", why: "SDPO_BINARY names it but the file does not exist" },
      { path: cpuPath, why: "its manifest exists but the .node file does not" },
      { path: `${dir}/broken.node`, why: "unreadable manifest: Unexpected token" },
    ]);
  });
});

describe("pickBinary", () => {
  test("a prebuilt whose child test-load fails is rejected with the reason and the next one is used", () => {
    const ranked = rankCandidates(facts({ libtorchInstalls: [pipCudaTorch, debianTorch] }));
    const testLoads: Record<string, TestLoadResult> = {
      [cudaPath]: { ok: false, error: "test-load failed (exit 1): libtorch_cuda.so: cannot open shared object file" },
      [cpuPath]: { ok: true, info: { torchVersion: "1.13.0", cudaCompiled: false } },
    };
    const tried: string[] = [];
    const { value, report } = pickBinary(ranked, (c) => {
      tried.push(c.path);
      const why = c.needsTestLoad ? checkTestLoad(c, testLoads[c.path]) : null;
      return why ? { ok: false, why } : { ok: true, value: `addon at ${c.path}` };
    });
    expect(tried).toEqual([cudaPath, cpuPath]);
    expect(value).toBe(`addon at ${cpuPath}`);
    expect(report.binary).toBe(cpuPath);
    expect(report.reason).toMatch(/prebuilt for libtorch 1\.13\.0 CPU/);
    expect(report.rejected).toEqual([{ path: cudaPath, why: expect.stringMatching(/libtorch_cuda\.so: cannot open/) }]);
    // The CUDA binary's libtorch folder differs from the one found: the reason says how to point at it.
    expect(report.rejected[0].why).toMatch(/looks for libtorch in \/opt\/venv\/.*set LD_LIBRARY_PATH=\/home\/u\/venv\/torch\/lib/);
  });

  test("a test-load that reports another libtorch than the manifest is rejected", () => {
    const c: Candidate = { path: cpuPath, kind: "prebuilt", needsTestLoad: true, reason: "", manifest: cpuManifest };
    expect(checkTestLoad(c, { ok: true, info: { torchVersion: "2.1.0", cudaCompiled: false } })).toMatch(/reports libtorch 2\.1\.0.*says 1\.13\.0/);
    expect(checkTestLoad(c, { ok: true, info: { torchVersion: "1.13.0", cudaCompiled: true } })).toMatch(/cudaCompiled=true/);
    expect(checkTestLoad(c, { ok: true, info: { torchVersion: "1.13.1", cudaCompiled: false } })).toBeNull();
  });

  test("when nothing loads, the error lists every candidate with its reason and says how to build", () => {
    const ranked = rankCandidates(facts({ libtorchInstalls: [debianTorch] }));
    let message = "";
    try {
      pickBinary(ranked, (c) => ({ ok: false, why: c.kind === "source" ? "load failed: libc10.so.1.13: cannot open" : "test-load failed (signal SIGSEGV): " }));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/no native binary could be loaded/);
    expect(message).toContain(`${cudaPath}: needs libtorch 2.11`);
    expect(message).toContain(`${cpuPath}: test-load failed (signal SIGSEGV)`);
    expect(message).toContain(`${sourcePath}: load failed: libc10.so.1.13: cannot open`);
    // The advice works in a user's project: `npm rebuild softmax-dpo` (npm run build:native exists only in a clone).
    expect(message).toMatch(/`npm rebuild softmax-dpo` picks a prebuilt binary that fits or builds one from source/);
    expect(message).toMatch(/SDPO_BUILD_FROM_SOURCE=1 npm rebuild softmax-dpo/);
    expect(message).not.toMatch(/^Build it from source with `npm run build:native`/m);
    expect(message).toMatch(/SDPO_BINARY/);
  });
});

describe("facts from disk", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-loader-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test("a libtorch folder: version, CUDA and ABI read from its files", () => {
    const prefix = path.join(tmp, "libtorch");
    fs.mkdirSync(path.join(prefix, "lib"), { recursive: true });
    fs.mkdirSync(path.join(prefix, "share", "cmake", "Torch"), { recursive: true });
    for (const f of ["libtorch.so", "libtorch_cpu.so", "libtorch_cuda.so", "libc10.so"]) fs.writeFileSync(path.join(prefix, "lib", f), "");
    fs.writeFileSync(path.join(prefix, "build-version"), "2.11.0+cu130\n");
    fs.writeFileSync(path.join(prefix, "share", "cmake", "Torch", "TorchConfig.cmake"), 'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")\n');
    expect(libtorchFromPrefix(prefix, "LIBTORCH=x")).toEqual({
      source: "LIBTORCH=x",
      libDir: path.join(prefix, "lib"),
      version: "2.11.0+cu130",
      cuda: true,
      cudaVersion: "13.0",
      cxx11Abi: true,
    });
    expect(libtorchFromPrefix(path.join(tmp, "nothing-here"), "x")).toBeNull();
  });

  test("prebuilds/ manifests are read; a broken one is reported", () => {
    const root = path.join(tmp, "pkg");
    const pdir = path.join(root, "prebuilds", `${process.platform}-${process.arch}`);
    fs.mkdirSync(pdir, { recursive: true });
    fs.writeFileSync(path.join(pdir, "a.json"), JSON.stringify(cpuManifest));
    fs.writeFileSync(path.join(pdir, "a.node"), "");
    fs.writeFileSync(path.join(pdir, "b.json"), "{not json");
    const f = gatherLoaderFacts(root, {});
    expect(f.prebuilts.map((p) => path.basename(p.path))).toEqual(["a.node", "b.node"]);
    expect(f.prebuilts[0].manifest).toEqual(cpuManifest);
    expect(f.prebuilts[1].manifestError).toBeTruthy();
    expect(f.sourceBuild.mtimeMs).toBeNull();
  });
});

describe("real binaries", () => {
  const repo = path.resolve(__dirname, "..");
  const built = path.join(repo, "build", "Release", "softmax_dpo.node");

  test("child test-load of build/Release reports its libtorch", () => {
    const r = testLoadInChild(built);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.info!.torchVersion).toMatch(/^\d+\.\d+/);    // A relative path is taken from the current folder, not as a module name.
    expect(testLoadInChild(path.relative(process.cwd(), built)).ok).toBe(true);
  });

  test("child test-load of a file that is not an addon fails without harming this process", () => {
    const bogus = path.join(os.tmpdir(), `sdpo-bogus-${process.pid}.node`);
    fs.writeFileSync(bogus, "not an ELF file");
    try {
      const r = testLoadInChild(bogus);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/test-load failed \(exit 1\).*(invalid ELF header|too short)/);
    } finally {
      fs.rmSync(bogus);
    }
  });

  test("a package with only a prebuilt copy of build/Release loads it after a child test-load", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-pkg-"));
    try {
      const pdir = path.join(root, "prebuilds", `${process.platform}-${process.arch}`);
      fs.mkdirSync(pdir, { recursive: true });
      const info = testLoadInChild(built).info!;
      const m = manifest({ torchVersion: info.torchVersion, cuda: info.cudaCompiled });
      fs.copyFileSync(built, path.join(pdir, "softmax_dpo.test.node"));
      fs.writeFileSync(path.join(pdir, "softmax_dpo.test.json"), JSON.stringify(m));
      const { report } = loadNativeBinary(root, (file) => ({ file }), { ...process.env, SDPO_BINARY: "" });
      expect(report.binary).toBe(path.join(pdir, "softmax_dpo.test.node"));
      expect(report.reason).toMatch(/child test-load passed/);
      expect(report.rejected.map((r) => r.path)).toEqual([path.join(root, "build", "Release", "softmax_dpo.node")]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
