/** The native core knows nothing of Node: no file of native/{ops,model,train,distributed} reaches <napi.h> or a
 *  binding header through its includes, and the ops build and pass their checks in a C++ program without Node
 *  (test/native-core/CMakeLists.txt: no Node include folder is given, so a stray <napi.h> would not compile). */
import { execFileSync } from "child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "fs";
import { join, relative, resolve } from "path";

const root = resolve(__dirname, "../..");
const nativeDir = join(root, "native");
const CORE = ["ops", "model", "train", "distributed"];

jest.setTimeout(600_000);

/** Files under `dir` (recursive) ending in one of `ext`. */
function filesUnder(dir: string, ext: string[]): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p, ext) : ext.some((x) => e.name.endsWith(x)) ? [p] : [];
  });
}

/** The quoted and bracketed includes of a file: quoted ones resolved as the compiler does (beside the file, then native/). */
function includesOf(file: string): { local: string[]; system: string[] } {
  const local: string[] = [];
  const system: string[] = [];
  for (const m of readFileSync(file, "utf8").matchAll(/^\s*#\s*include\s*([<"])([^>"]+)[>"]/gm)) {
    if (m[1] === "<") {
      system.push(m[2]);
      continue;
    }
    const beside = join(file, "..", m[2]);
    const fromNative = join(nativeDir, m[2]);
    const found = [beside, fromNative].find((p) => existsSync(p));
    if (!found) throw new Error(`${relative(root, file)} includes "${m[2]}", found neither beside it nor in native/`);
    local.push(found);
  }
  return { local, system };
}

describe("native core without Node", () => {
  test("no file of native/{ops,model,train,distributed} includes <napi.h> or native/binding/, directly or through a header", () => {
    const offenders: string[] = [];
    for (const start of CORE.flatMap((d) => filesUnder(join(nativeDir, d), [".cpp", ".h", ".cu", ".cuh"]))) {
      const seen = new Set<string>();
      const path: string[] = [];
      const visit = (file: string): boolean => {
        if (seen.has(file)) return false;
        seen.add(file);
        path.push(relative(root, file));
        const { local, system } = includesOf(file);
        if (system.some((s) => s === "napi.h" || s.startsWith("node")) || relative(nativeDir, file).startsWith("binding")) return true;
        for (const next of local) if (visit(next)) return true;
        path.pop();
        return false;
      };
      if (visit(start)) offenders.push(path.join(" -> "));
    }
    expect(offenders).toEqual([]);
    expect(CORE.flatMap((d) => filesUnder(join(nativeDir, d), [".cpp"])).length).toBeGreaterThan(20); // the walk saw the core
  });

  test("the ops build without Node and hold their fused paths to the plain references (C++ program)", () => {
    const build = join(root, "build", "native-core");
    mkdirSync(build, { recursive: true });
    const env = { ...process.env };
    const configure = ["-S", join(root, "test", "native-core"), "-B", build, "-DCMAKE_BUILD_TYPE=Release"];
    if (process.env.LIBTORCH) configure.push(`-DCMAKE_PREFIX_PATH=${process.env.LIBTORCH}`);
    const run = (cmd: string, args: string[]) => {
      try {
        return execFileSync(cmd, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        throw new Error(`${cmd} ${args.join(" ")} failed:\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
      }
    };
    if (!existsSync(join(build, "CMakeCache.txt"))) run("cmake", configure);
    run("cmake", ["--build", build, "--parallel", "2"]);
    const out = run(join(build, "native_core_test"), []);
    expect(out).toMatch(/^0 failed$/m);
    expect(out.match(/^ok {2}/gm)?.length).toBe(7);
  });
});
