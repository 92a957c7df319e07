/** Every `sdpo` command, in the order `--help` lists them. */
import type { CommandModule } from "yargs";
import { inspectCommand } from "./inspect";
import { trainCommand } from "./train";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [inspectCommand, trainCommand];
