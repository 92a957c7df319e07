import { readFileSync } from "fs";
import type { CommandModule } from "yargs";
import { DEFAULT_TEMPLATE, llaraRecords, parseLlaraJson, readTemplates, responseText } from "../../data/convert";
import { DEFAULT_SPECIAL_TOKENS, trainByteLevelBpe, writeFileAtomic } from "../../data/train_tokenizer";

interface TrainArgs {
  input: string[];
  "vocab-size": number;
  output: string;
  template?: string;
  seed: number;
  special: string[];
}

/** The texts a model sees from a file: JSON rows give their prompts and answers, other files their lines. */
export function corpusOf(path: string, templates: string[], seed: number): string[] {
  const text = readFileSync(path, "utf8");
  if (!path.endsWith(".json")) return text.split(/\r?\n/).filter((l) => l.length > 0);
  const records = llaraRecords(parseLlaraJson(text, path), { templates, seed });
  return records.flatMap((r) => [r.prompt + responseText(r.chosen)]);
}

const trainCommand: CommandModule<object, TrainArgs> = {
  command: "train",
  describe: "Train a byte-level BPE tokenizer (tokenizer.json) with <|endoftext|> (EOS) and <|pad|>",
  builder: (y) =>
    y
      .option("input", { type: "string", array: true, demandOption: true, describe: "LLaRA JSON or text files" })
      .option("vocab-size", { type: "number", default: 4096, describe: "ids in all, special tokens included" })
      .option("output", { type: "string", demandOption: true, describe: "tokenizer.json to write" })
      .option("template", { type: "string", describe: "prompt templates for JSON inputs (default: the paper's first)" })
      .option("seed", { type: "number", default: 0, describe: "seeds the template choice for JSON inputs" })
      .option("special", { type: "string", array: true, default: DEFAULT_SPECIAL_TOKENS, describe: "special tokens, EOS first" }) as never,
  handler: (args) => {
    const templates = args.template ? readTemplates(args.template) : [DEFAULT_TEMPLATE];
    const texts = args.input.flatMap((file) => corpusOf(file, templates, args.seed));
    writeFileAtomic(args.output, trainByteLevelBpe(texts, { vocabSize: args["vocab-size"], specialTokens: args.special }));
    process.stdout.write(`${args.output}: byte-level BPE, ${args["vocab-size"]} ids, from ${texts.length} texts\n`);
  },
};

/** `sdpo tokenizer <subcommand>`. */
export const tokenizerCommand: CommandModule = {
  command: "tokenizer <command>",
  describe: "Tokenizer tools (train)",
  builder: (y) => y.command(trainCommand).demandCommand(1),
  handler: () => undefined,
};
