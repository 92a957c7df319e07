/**
 * The whole native surface of softmax-dpo, typed. Nothing else imports the `.node` file.
 *
 * Conventions of the addon (see native/binding/):
 * - argument errors are thrown as TypeError / RangeError naming the argument;
 * - libtorch errors become Error("libtorch: ...");
 * - every long-running call returns a Promise and runs off the event loop;
 * - native objects refuse use after dispose().
 */
import * as path from "path";

/** Float arrays accepted by the ops; results come back in the dtype of the inputs. */
export type FloatArray = Float32Array | Float64Array;

export interface BuildInfo {
  torchVersion: string;
  torchSource: string;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cxx11Abi: boolean;
  numThreads: number;
  napiVersion: number;
  /** Names of the binding groups compiled in (ops, model, train, ...). */
  bindings: string[];
}

// ---------------------------------------------------------------------------
// ops: loss functions (native/binding/ops_binding.cpp)
// ---------------------------------------------------------------------------
// (filled in by the ops binding)

// ---------------------------------------------------------------------------
// model: decoder, checkpoints, scoring, generation (native/binding/model_binding.cpp)
// ---------------------------------------------------------------------------
// (filled in by the model binding)

// ---------------------------------------------------------------------------
// train: optimizer and training steps (native/binding/train_binding.cpp)
// ---------------------------------------------------------------------------
// (filled in by the train binding)

export interface NativeAddon {
  buildInfo(): BuildInfo;
  setNumThreads(n: number): void;
  manualSeed(seed: number): void;
}

let cached: NativeAddon | undefined;
let loadedFrom: string | undefined;

/** Loads the addon once (prebuilt binary or build/Release) and returns it. */
export function native(): NativeAddon {
  if (cached) return cached;
  const root = path.resolve(__dirname, "..", "..");
  const packageRoot = require("fs").existsSync(path.join(root, "package.json")) ? root : path.resolve(__dirname, "..");
  try {
    // node-gyp-build picks prebuilds/<platform>-<arch>/ first, then build/Release.
    const load = require("node-gyp-build") as ((dir: string) => NativeAddon) & { resolve(dir: string): string };
    loadedFrom = load.resolve(packageRoot);
    cached = load(packageRoot);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(
      `softmax-dpo: could not load the native addon (${msg}).\n` +
        "Build it with `npm run build:native` (needs libtorch: `npm run setup` installs it on Debian/Ubuntu)."
    );
  }
  return cached;
}

/** Path of the loaded `.node` file, once loaded. */
export function nativePath(): string | undefined {
  return loadedFrom;
}
