import type { CommandModule } from "yargs";
import { native, nativePath } from "../../native";

/** `sdpo inspect`: which libtorch and binary are in use, and whether CUDA is there. */
export const inspectCommand: CommandModule<object, { json?: boolean }> = {
  command: "inspect",
  describe: "Print the libtorch version, CUDA availability and build info of the loaded addon",
  builder: (y) => y.option("json", { type: "boolean", describe: "print one JSON object" }) as never,
  handler: (args) => {
    const info = { ...native().buildInfo(), binary: nativePath() };
    if (args.json) {
      process.stdout.write(JSON.stringify(info) + "\n");
      return;
    }
    const lines = [
      `binary:        ${info.binary}`,
      `libtorch:      ${info.torchVersion} (${info.torchSource})`,
      `CUDA compiled: ${info.cudaCompiled}`,
      `CUDA devices:  ${info.cudaAvailable ? info.cudaDeviceCount : 0}`,
      `threads:       ${info.numThreads}`,
      `C++11 ABI:     ${info.cxx11Abi}`,
      `bindings:      ${info.bindings.join(", ") || "(none)"}`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  },
};
