/**
 * The CUDA architectures reach the target that holds the kernels. CMake copies CMAKE_CUDA_ARCHITECTURES into a
 * target when the target is created, and the addon is created before CUDA is enabled, so the build sets them on
 * the target itself. This configures the real CMakeLists.txt against a fake CUDA-enabled libtorch (a
 * TorchConfig.cmake that declares a `torch_cuda` target) and reads the generated build files: the addon must
 * compile its .cu sources for sm_80 and sm_90. Configure only; skipped where no nvcc is installed.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");
const nvcc = ["/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc", "/usr/bin/nvcc"].find((p) => fs.existsSync(p));
const cmakeFound = spawnSync("cmake", ["--version"]).status === 0;
const describeNvcc = nvcc && cmakeFound ? describe : describe.skip;

const fakeTorchConfig = `
set(Torch_FOUND TRUE)
set(Torch_VERSION "2.11.0")
set(TORCH_CXX_FLAGS "")
set(TORCH_LIBRARY "\${CMAKE_CURRENT_LIST_DIR}/lib/libtorch.so")
add_library(torch_cuda INTERFACE IMPORTED)
set(TORCH_LIBRARIES torch_cuda)
`;

function configure(extraArgs: string[], env: NodeJS.ProcessEnv = {}): { dir: string; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-cmake-"));
  const torchDir = path.join(dir, "fake-torch");
  fs.mkdirSync(torchDir);
  fs.writeFileSync(path.join(torchDir, "TorchConfig.cmake"), fakeTorchConfig);
  const build = path.join(dir, "build");
  const environment: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete environment.LIBTORCH;
  if (env.SDPO_CUDA_ARCH === undefined) delete environment.SDPO_CUDA_ARCH;
  const r = spawnSync(
    "cmake",
    ["-S", root, "-B", build, `-DTorch_DIR=${torchDir}`, `-DCMAKE_CUDA_COMPILER=${nvcc}`, ...extraArgs],
    { encoding: "utf8", env: environment, timeout: 120_000 }
  );
  if (r.status !== 0) throw new Error(`cmake configure failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return { dir: build, out: r.stdout };
}

/** The -gencode / --generate-code architectures in the generated compile rules of the addon's .cu objects. */
function addonCudaArchitectures(build: string): string[] {
  const files = [path.join(build, "build.ninja"), path.join(build, "CMakeFiles", "softmax_dpo.dir", "flags.make")];
  const text = files.filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, "utf8")).join("\n");
  return [...new Set([...text.matchAll(/arch=compute_(\d+)/g)].map((m) => m[1]))].sort();
}

describeNvcc("CUDA architectures on the addon target (fake CUDA libtorch, configure only)", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(path.dirname(d), { recursive: true, force: true })));

  test("defaults to sm_80 and sm_90 on the addon itself", () => {
    const { dir, out } = configure([]);
    dirs.push(dir);
    expect(out).toMatch(/CUDA libtorch found, building the CUDA kernels into the addon/);
    expect(fs.readFileSync(path.join(dir, "sdpo_cuda_target.txt"), "utf8").trim()).toBe("softmax_dpo 80;90");
    expect(addonCudaArchitectures(dir)).toEqual(["80", "90"]);
  }, 150_000);

  test("SDPO_CUDA_ARCH chooses them, even when CMAKE_CUDA_ARCHITECTURES was set for the whole project", () => {
    const { dir } = configure(["-DCMAKE_CUDA_ARCHITECTURES=75"], { SDPO_CUDA_ARCH: "86" });
    dirs.push(dir);
    expect(fs.readFileSync(path.join(dir, "sdpo_cuda_target.txt"), "utf8").trim()).toBe("softmax_dpo 86");
    expect(addonCudaArchitectures(dir)).toEqual(["86"]);
  }, 150_000);
});
