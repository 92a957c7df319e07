/**
 * The recipe of `sdpo demo`, in one place so it can be tuned: model size, data, and the options of each
 * of the three runs (SFT from scratch; DPO and S-DPO from the SFT checkpoint), as the paper's ablation.
 *
 * Budget: the default recipe must finish (training + evaluation of all three) within 15 minutes on a
 * 2-core CPU (measured: 3 min 32 s at load 1-2, 8 min 55 s with an earlier build under load ~6); `--quick` is a
 * smoke run of under a minute.
 */
import type { NativeModelConfig } from "../native";
import type { TrainerOptions } from "../trainers/types";

type RunOptions = Omit<TrainerOptions, "model" | "outputDir">;

export interface DemoRecipe {
  /** presetConfig() name of the decoder trained from scratch... */
  preset: "tiny" | "small";
  /** ...with these shape fields changed (head_dim follows hidden_size / num_attention_heads). */
  modelOverrides?: Partial<Pick<NativeModelConfig, "hidden_size" | "intermediate_size" | "num_hidden_layers" | "num_attention_heads" | "num_key_value_heads">>;
  seed: number;
  /** Rows of train.arrow used per epoch (undefined: all). */
  trainRows?: number;
  /** Rows of valid.arrow for the validation-loss curves during training (kept small: it runs often). */
  curveEvalRows: number;
  /** Rows of valid.arrow for the final table (undefined: all 267). */
  testRows?: number;
  evalBatchSize: number;
  /** Generation length of the paper's protocol. */
  maxNewTokens: number;
  sft: RunOptions;
  dpo: RunOptions;
  sdpo: RunOptions;
}

/**
 * Tuned on the 2-core dev machine (shared, load ~6). A from-scratch decoder only starts naming candidates
 * once SFT has (nearly) memorised the 2,500 training rows: 4-8 epochs leave ValidRatio near 0.01, 12 epochs
 * at lr 6e-3 reach 0.04, 20 epochs at lr 3e-3 reach ~0.26 (SFT validation loss rises meanwhile: it is
 * memorisation of overlapping user sequences, not general skill). DPO and S-DPO then run 2 epochs from there.
 * Measured: the whole demo in 3m32s at load 1-2 (8m55s at load ~6 with the build before the fused CPU layers).
 */
export const DEMO_RECIPE: DemoRecipe = {
  preset: "tiny",
  seed: 42,
  trainRows: undefined,
  curveEvalRows: 64,
  testRows: undefined,
  evalBatchSize: 16,
  maxNewTokens: 20,
  sft: { learningRate: 3e-3, numTrainEpochs: 20, batchSize: 16, warmupRatio: 0.05, lrSchedulerType: "cosine", evalSteps: 157, seed: 42 },
  dpo: { learningRate: 5e-4, beta: 1.0, negatives: 1, numTrainEpochs: 2, batchSize: 16, warmupRatio: 0.05, evalSteps: 25, seed: 42 },
  sdpo: { learningRate: 5e-4, beta: 1.0, negatives: 3, numTrainEpochs: 2, batchSize: 16, warmupRatio: 0.05, evalSteps: 25, seed: 42 },
};

export const QUICK_RECIPE: DemoRecipe = {
  ...DEMO_RECIPE,
  preset: "tiny",
  trainRows: 128,
  curveEvalRows: 16,
  testRows: 32,
  sft: { ...DEMO_RECIPE.sft, numTrainEpochs: 1, evalSteps: 4 },
  dpo: { ...DEMO_RECIPE.dpo, numTrainEpochs: 1, evalSteps: 4 },
  sdpo: { ...DEMO_RECIPE.sdpo, numTrainEpochs: 1, evalSteps: 4 },
};

/** The decoder config of a recipe for a tokenizer of `vocabSize` ids. */
export function demoModelConfig(recipe: DemoRecipe, base: (preset: "tiny" | "small", vocabSize: number) => NativeModelConfig, vocabSize: number): NativeModelConfig {
  const config = { ...base(recipe.preset, vocabSize), ...recipe.modelOverrides };
  if (config.hidden_size % config.num_attention_heads !== 0 || config.num_attention_heads % config.num_key_value_heads !== 0) {
    throw new RangeError(
      `demo recipe: hidden_size ${config.hidden_size}, num_attention_heads ${config.num_attention_heads} and num_key_value_heads ${config.num_key_value_heads} do not divide evenly`
    );
  }
  return { ...config, head_dim: config.hidden_size / config.num_attention_heads };
}
