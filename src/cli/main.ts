#!/usr/bin/env node
/** The `sdpo` command line: one module per command in src/cli/commands/. */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { commands } from "./commands";

export async function main(argv: string[]): Promise<void> {
  let cli = yargs(argv)
    .scriptName("sdpo")
    .strict()
    .demandCommand(1, "Name a command; `sdpo --help` lists them.")
    .recommendCommands()
    .help()
    .alias("h", "help")
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    // Usage errors (unknown option, missing argument) print the message and a pointer to --help;
    // a failing command is reported by main() below: its message, no stack trace, no usage dump.
    .fail((message, error) => {
      if (error) throw error;
      process.stderr.write(`${message}\n\nRun with --help for usage.\n`);
      process.exit(1);
    });
  for (const command of commands) cli = cli.command(command);
  await cli.parseAsync();
}

if (require.main === module) {
  main(hideBin(process.argv)).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`sdpo: ${message}\n`);
    process.exit(1);
  });
}
