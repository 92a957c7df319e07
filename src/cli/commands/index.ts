/** Every `sdpo` command, in the order `--help` lists them. */
import type { CommandModule } from "yargs";
import { demoCommand } from "./demo";
import { evalCommand } from "./eval";
import { inspectCommand } from "./inspect";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [inspectCommand, evalCommand, demoCommand];
