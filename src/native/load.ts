/** Loads the addon once per process (the binary chosen by src/native-loader.ts) and says which one it was. */
import * as path from "path";
import { loadNativeBinary, packageRootFrom, type NativeLoadReport } from "../native-loader";
import type { NativeAddon } from "./addon";

let cached: { addon: NativeAddon; report: NativeLoadReport } | undefined;

/**
 * Loads the addon once per process and returns it: SDPO_BINARY, then a prebuilt binary that fits this
 * machine's libtorch (test-loaded in a child first), then build/Release. See src/native-loader.ts.
 */
export function native(): NativeAddon {
  if (!cached) {
    const { value, report } = loadNativeBinary(packageRootFrom(path.join(__dirname, "..")), (file) => require(file) as NativeAddon);
    cached = { addon: value, report };
  }
  return cached.addon;
}

/** Which binary native() loaded, why, and which candidates were passed over (loads the addon if needed). */
export function nativeLoadReport(): NativeLoadReport {
  native();
  return cached!.report;
}

/** Path of the loaded `.node` file, once loaded. */
export function nativePath(): string | undefined {
  return cached?.report.binary;
}
