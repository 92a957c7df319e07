import type { CommandModule } from "yargs";
import { convertLlaraFile } from "../../data/convert";
import { resolveTokenizerArg } from "../data-arg";
import { integer, outputPath, SEED_RANGE } from "../flags";

interface ConvertArgs {
  format: string;
  input: string;
  output: string;
  tokenizer?: string;
  template?: string;
  seed: number;
  negatives: number;
  "batch-rows": number;
}

/** `sdpo convert`: the paper's JSON -> Arrow IPC preference file. */
export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: "convert",
  describe: "Convert the paper's LLaRA/S-DPO JSON to an Arrow preference file (text, item ids, token ids)",
  builder: (y) =>
    y
      .option("format", { type: "string", choices: ["llara"], default: "llara", describe: "input format" })
      .option("input", { type: "string", demandOption: true, describe: "JSON file (historyList, itemList, trueSelection)" })
      .option("output", outputPath("output", "Arrow IPC file to write (atomically)", "file"))
      .option("tokenizer", { type: "string", describe: "tokenizer.json, or a shipped dataset's name (lastfm); without it only text and item columns are written" })
      .option("template", { type: "string", describe: "prompt templates, one per line, with [HistoryHere] and [CansHere]" })
      .option("seed", integer("seed", "seeds the template choice and the fixed negatives", { ...SEED_RANGE, default: 0 }))
      .option("negatives", integer("negatives", "fixed rejected responses per row, drawn once from the candidates", { min: 0, max: 4096, default: 0 }))
      .option("batch-rows", integer("batch-rows", "rows per Arrow record batch", { min: 1, max: 1 << 20, default: 1024 })) as never,
  handler: async (args) => {
    const { rows } = await convertLlaraFile(args.input, {
      output: args.output,
      tokenizerFile: args.tokenizer === undefined ? undefined : resolveTokenizerArg(args.tokenizer),
      templateFile: args.template,
      seed: args.seed,
      negatives: args.negatives,
      batchRows: args["batch-rows"],
    });
    process.stdout.write(`${args.output}: ${rows} rows\n`);
  },
};
