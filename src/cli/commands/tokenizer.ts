import { readRegularFileSync } from "../../regular-file";
import type { CommandModule } from "yargs";
import { DEFAULT_TEMPLATE, llaraRecords, parseLlaraJson, readTemplates, responseText } from "../../data/convert";
import { DEFAULT_SPECIAL_TOKENS, trainByteLevelBpe, writeFileAtomic } from "../../data/train_tokenizer";
import { integer, outputPath, SEED_RANGE } from "../flags";

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
  const text = readRegularFileSync(path);
  if (!path.endsWith(".json")) return text.split(/\r?\n/).filter((l) => l.length > 0);
  const records = llaraRecords(parseLlaraJson(text, path), { templates, seed });
  return records.flatMap((r) => [r.prompt + responseText(r.chosen)]);
}

/** Ids a tokenizer.json holds: one past the largest id of its vocabulary and added tokens. */
function idCount(json: string): number {
  const parsed = JSON.parse(json) as { model: { vocab: Record<string, number> }; added_tokens?: { id: number }[] };
  const ids = [...Object.values(parsed.model.vocab), ...(parsed.added_tokens ?? []).map((t) => t.id)];
  return ids.reduce((a, b) => Math.max(a, b), -1) + 1;
}

const trainCommand: CommandModule<object, TrainArgs> = {
  command: "train",
  describe: "Train a byte-level BPE tokenizer (tokenizer.json) with <|endoftext|> (EOS) and <|pad|>",
  builder: (y) =>
    y
      .option("input", { type: "string", array: true, demandOption: true, describe: "LLaRA JSON or text files" })
      .option("vocab-size", integer("vocab-size", "ids in all: the 256 bytes, the merges and the special tokens", { min: 257, max: 1 << 20, default: 4096 }))
      .option("output", outputPath("output", "tokenizer.json to write", "file"))
      .option("template", { type: "string", describe: "prompt templates for JSON inputs (default: the paper's first)" })
      .option("seed", integer("seed", "seeds the template choice for JSON inputs", { ...SEED_RANGE, default: 0 }))
      .option("special", { type: "string", array: true, default: DEFAULT_SPECIAL_TOKENS, describe: "special tokens, EOS first" }) as never,
  handler: (args) => {
    const templates = args.template ? readTemplates(args.template) : [DEFAULT_TEMPLATE];
    const texts = args.input.flatMap((file) => corpusOf(file, templates, args.seed));
    const json = trainByteLevelBpe(texts, { vocabSize: args["vocab-size"], specialTokens: args.special });
    writeFileAtomic(args.output, json);
    const ids = idCount(json);
    const asked = ids === args["vocab-size"] ? "" : ` (${args["vocab-size"]} asked for: the texts hold no more merges)`;
    process.stdout.write(`${args.output}: byte-level BPE, ${ids} ids${asked}, from ${texts.length} texts\n`);
  },
};

/** `sdpo tokenizer <subcommand>`. */
export const tokenizerCommand: CommandModule = {
  command: "tokenizer <command>",
  describe: "Tokenizer tools (train)",
  builder: (y) => y.command(trainCommand).demandCommand(1),
  handler: () => undefined,
};
