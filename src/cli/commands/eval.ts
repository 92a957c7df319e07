/** `sdpo eval`: HR@1 and ValidRatio by the paper's protocol, plus ranking metrics, for one model folder. */
import * as path from "path";
import type { CommandModule } from "yargs";
import { evaluate, type EvalResult } from "../../eval/evaluate";
import { formatMetricsTable } from "../../eval/table";
import { loadModel } from "../../model/checkpoint";
import type { DeviceName } from "../../native";
import { createProgress } from "../../report/progress";
import {
  checkDataFile,
  checkModelFolder,
  checkPositiveInteger,
  disposeModel,
  openEvalData,
  UsageError,
} from "../eval-setup";

export interface EvalArgs {
  model: string;
  data: string;
  json?: boolean;
  batchSize?: number;
  generation?: boolean;
  ranking?: boolean;
  maxNewTokens?: number;
  maxRows?: number;
  device?: string;
}

/** The keys `--json` prints (NaN, for a part that was off, becomes null). */
export function evalJson(result: EvalResult): Record<string, number | null> {
  const keys = ["hr1", "validRatio", "hr3", "hr5", "ndcg3", "ndcg5", "rows"] as const;
  return Object.fromEntries(keys.map((k) => [k, Number.isFinite(result[k]) ? result[k] : null]));
}

export async function runEval(args: EvalArgs, out: NodeJS.WritableStream = process.stdout): Promise<EvalResult> {
  const modelFolder = checkModelFolder(args.model);
  const dataFile = checkDataFile(args.data);
  const batchSize = checkPositiveInteger(args.batchSize ?? 8, "--batch-size");
  const maxNewTokens = checkPositiveInteger(args.maxNewTokens ?? 20, "--max-new-tokens");
  const maxRows = args.maxRows === undefined ? undefined : checkPositiveInteger(args.maxRows, "--max-rows");
  const generation = args.generation ?? true;
  const ranking = args.ranking ?? true;
  if (!generation && !ranking) throw new UsageError("--no-generation and --no-ranking together leave nothing to measure");
  const device = (args.device ?? "cpu") as DeviceName;

  const { dataset, tokenizer, rows } = await openEvalData(dataFile, modelFolder);
  const model = await loadModel(modelFolder, { device });
  const progress = createProgress(maxRows ? Math.min(rows, maxRows) : rows, { label: "eval", unit: "rows" });
  try {
    const result = await evaluate(model, dataset, {
      tokenizer,
      batchSize,
      maxNewTokens,
      generation,
      ranking,
      maxRows,
      onProgress: (done) => progress.update(done),
    });
    progress.stop();
    if (args.json) out.write(JSON.stringify(evalJson(result)) + "\n");
    else out.write(formatMetricsTable([{ method: path.basename(modelFolder), result }]) + "\n");
    return result;
  } finally {
    progress.stop();
    disposeModel(model);
  }
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: "eval",
  describe: "Evaluate a model folder on an .arrow split: HR@1 and ValidRatio (paper protocol), HR@3/5, NDCG@3/5",
  builder: (y) =>
    y
      .option("model", { type: "string", demandOption: true, describe: "Hugging Face model folder (config.json, *.safetensors)" })
      .option("data", { type: "string", demandOption: true, describe: "evaluation split (.arrow)" })
      .option("json", { type: "boolean", describe: "print one JSON object (hr1, validRatio, hr3, hr5, ndcg3, ndcg5, rows)" })
      .option("batch-size", { type: "number", default: 8, describe: "prompts per batch" })
      .option("generation", { type: "boolean", default: true, describe: "greedy generation for HR@1 / ValidRatio (--no-generation: ranking only)" })
      .option("ranking", { type: "boolean", default: true, describe: "score every candidate for HR@k / NDCG@k (--no-ranking: generation only)" })
      .option("max-new-tokens", { type: "number", default: 20, describe: "generation length, 20 as in the paper" })
      .option("max-rows", { type: "number", describe: "evaluate only the first N rows" })
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" }) as never,
  handler: async (args) => {
    await runEval(args);
  },
};
