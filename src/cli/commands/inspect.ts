import type { CommandModule } from "yargs";
import { native, nativeLoadReport } from "../../native";

/** `sdpo inspect`: which libtorch and binary are in use (and why that binary), and whether CUDA is there. */
export const inspectCommand: CommandModule<object, { json?: boolean }> = {
  command: "inspect",
  describe: "Print the loaded binary and why it was chosen, the libtorch version, CUDA availability and build info",
  builder: (y) => y.option("json", { type: "boolean", describe: "print one JSON object" }) as never,
  handler: (args) => {
    const report = nativeLoadReport();
    const info = { ...native().buildInfo(), binary: report.binary, reason: report.reason, rejected: report.rejected };
    if (args.json) {
      process.stdout.write(JSON.stringify(info) + "\n");
      return;
    }
    const lines = [
      `binary:        ${info.binary}`,
      `chosen because ${info.reason}`,
      ...info.rejected.map((r) => `passed over:   ${r.path}: ${r.why}`),
      `libtorch:      ${info.torchVersion} (${info.torchSource})`,
      `CUDA compiled: ${info.cudaCompiled}`,
      `CUDA devices:  ${info.cudaAvailable ? info.cudaDeviceCount : 0}`,
      `threads:       ${info.numThreads} intra-op (BLAS: ${info.blasThreading})`,
      `C++11 ABI:     ${info.cxx11Abi}`,
      `bindings:      ${info.bindings.join(", ") || "(none)"}`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  },
};
