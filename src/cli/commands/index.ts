/** Every `sdpo` command, in the order `--help` lists them. */
import type { CommandModule } from "yargs";
import { baselineCommand } from "./baseline";
import { benchCommand } from "./bench";
import { convertCommand } from "./convert";
import { demoCommand } from "./demo";
import { evalCommand } from "./eval";
import { inspectCommand } from "./inspect";
import { tokenizerCommand } from "./tokenizer";
import { trainCommand } from "./train";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  demoCommand,
  trainCommand,
  evalCommand,
  baselineCommand,
  convertCommand,
  tokenizerCommand,
  inspectCommand,
  benchCommand,
];
