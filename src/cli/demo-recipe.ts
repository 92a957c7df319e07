/**
 * The recipe of `sdpo demo`, in one place so it can be tuned: model size, data levers, and the options of each
 * run (SFT from scratch; DPO and S-DPO from the SFT checkpoint, as the paper's ablation), plus the baselines.
 *
 * Budget: the default recipe (one seed) must finish within 15 minutes on a 2-core CPU; `--quick` is a smoke run
 * of about a minute.
 */
import type { NativeModelConfig } from "../native";
import type { TrainerOptions } from "../trainers/types";
import type { BaselineKind } from "../baselines/baseline";
import type { ItemTokenOptions } from "../data/lastfm_build";

/** One stage's trainer options in a demo recipe (the model and outputDir come from the demo). */
export type DemoRunOptions = Omit<TrainerOptions, "model" | "outputDir">;

export interface DemoRecipe {
  /** presetConfig() name of the decoder trained from scratch... */
  preset: "tiny" | "small";
  /** ...with these shape fields changed (head_dim follows hidden_size / num_attention_heads). */
  modelOverrides?: Partial<Pick<NativeModelConfig, "hidden_size" | "intermediate_size" | "num_hidden_layers" | "num_attention_heads" | "num_key_value_heads" | "tie_word_embeddings">>;
  /** Train and evaluate on the shipped rows re-tokenized with one token per artist name (src/data/item_tokens.ts). */
  itemTokens: boolean;
  /** With itemTokens: also one token per constant phrase of the prompt templates (src/data/template_tokens.ts). */
  templateTokens: boolean;
  /** With itemTokens: no token for the ", " between listed titles (src/data/list_separators.ts). */
  dropListSeparators: boolean;
  seed: number;
  /** Sub-sequence examples (every history prefix predicts its next item) beside the file's rows. */
  subsequences: boolean;
  /** Share of copy rows (a random history and target that only the candidate list predicts; ResampledDataset). */
  copyRows: number;
  /** Share of skip rows each epoch (the history's last item dropped and kept out of the list; ResampledDataset). */
  skipRows: number;
  /** Examples per SFT epoch (undefined: all of them). */
  trainRows?: number;
  /** Examples per preference epoch (undefined: all): the preference runs start from a trained SFT model. */
  preferenceRows?: number;
  /** DPO and S-DPO: the policy's own greedy answer replaces each row's last negative where it is wrong (ModelAnswerNegatives). */
  answerNegatives: boolean;
  /** K of the negatives figure (`--negatives-figure`), each an S-DPO run from the same SFT checkpoint. */
  negativesFigure: number[];
  /** Baselines fitted on train.arrow and scored on the same rows. */
  baselines: BaselineKind[];
  /** SASRec's epochs (its other settings are the baseline's defaults). */
  sasrecEpochs: number;
  /** Rows of valid.arrow for the validation-loss curves during training (kept small: it runs often). */
  curveEvalRows: number;
  /** Rows of valid.arrow for the final table (undefined: all 267). */
  testRows?: number;
  evalBatchSize: number;
  /** Generation length of the paper's protocol. */
  maxNewTokens: number;
  /** Data-parallel ranks (CPU processes) of the SFT stage, at most one per core (`sdpo demo --nproc` overrides). */
  sftRanks: number;
  sft: DemoRunOptions;
  /** A naming stage after SFT, on the same model (an sft run with `listWeight`, whose negatives are the row's other
   *  candidates): it raises the probability of answering with a listed title. Undefined: none. */
  naming?: DemoRunOptions;
  /** Examples of the naming stage (undefined: an SFT epoch's). */
  namingRows?: number;
  dpo: DemoRunOptions;
  sdpo: DemoRunOptions;
}

/**
 * Tuned on the valid split (bench/recipe/: a grid run on 16 CPU cores and a GPU, and the copy levers, 2026-11-25).
 * Training rows are re-drawn every epoch (ResampledDataset: a fresh candidate list, the target at a random
 * position, the prompt re-rendered) with sub-sequence rows. That teaches ranking (rank HR@1 0.65 over 3 seeds),
 * but with BPE titles of 3-6 tokens the decoder answered with its own next-item guess, a listed title in 8 % of
 * rows. Three levers together make it read the list: one token per artist name (copying a title is copying one
 * token), tied input/output embeddings (a copied token's embedding is its own output direction) and 25 % copy
 * rows (random history and target: only the list predicts them), trained long enough. In the copy-levers runs
 * nothing copied within 3 epochs; at 8 epochs (5,864 steps) ValidRatio rose to 0.74 and HR@1 to 0.73 on valid,
 * but over 10 seeds it ranged 0.28-0.83. SFT's candidate-list term did not fix that (bench/recipe/
 * list-term-2026-12-06.md): from scratch it named listed titles at the cost of ranking, and as a naming stage
 * after SFT (NAMING_STAGE, off) it moved ValidRatio by a few points either way. Weight decay on the SFT matrices
 * helped (weight-decay-2026-12-06.md), and 12 epochs instead of 8 helped most (epochs-decay-skip-rpo-2026-12-06.md):
 * after 8 epochs the worst seed still answered with a history item on 13 % of its own training rows, an unfinished
 * copy behaviour; at 12 epochs with decay 0.2 its ValidRatio went from 0.760 to 0.865. Skip rows and a third layer
 * did not help, nor did lr 1e-2 or batch 64 (lr-batch-answer-negatives-2026-12-07.md). The SFT stage runs on 2
 * data-parallel ranks on a 2-core machine (`sdpo demo --nproc`), 1.27x the examples per second of one process, and
 * the time won went into 15 epochs instead of 12. SFT also smooths its labels toward the candidate list
 * (listSmoothing 0.1 over the 19 other candidates): cross-entropy alone stops training the copy behaviour on rows
 * it has memorised, and the smoothing keeps every row asking for probability on the listed titles. It lifted the
 * weakest seed's SFT ValidRatio from 0.839 to 0.921 (list-smoothing-2026-12-07.md). DPO and S-DPO then run 8,192
 * examples from the SFT checkpoint at lr 1e-4, with the chosen answers' NLL (chosenNllWeight 5, RPO), which takes
 * most of the 2-3 points of ValidRatio the stage cost without it. Over seeds 42-44: S-DPO HR@1 0.920 [0.89, 0.95],
 * ValidRatio 0.921, about 14 minutes a seed on 2 cores (bench/demo/results-3-seeds-list-smoothing-2026-12-07.md).
 * Not kept after that: SFT's history unlikelihood (3 seeds: S-DPO 0.905; bench/demo/results-3-seeds-history-
 * unlikelihood-2026-12-07.md) and residual dropout 0.1 (bench/recipe/residual-dropout-2026-12-07.md).
 * Then the tokenization (bench/recipe/template-tokens-2026-12-07.md): the history's first title had reached the
 * model as byte-level pieces (the tokenizers library's whole-word rule; item tokens now match without it), and
 * one token per template phrase plus no token for the commas between titles cut a prompt from about 84 tokens to
 * about 29, a step to 0.47 of its time. SFT alone went from 0.918 / 0.910 to 0.948 / 0.955 ValidRatio on seeds
 * 42 / 43, the same at 20 and 30 epochs. The step is now too small for 2 ranks to pay on 2 cores, so SFT trains
 * 24 epochs in one process (sftRanks 1). Over seeds 42-44: S-DPO HR@1 0.954 [0.93, 0.98], ValidRatio 0.954
 * (bench/demo/results-3-seeds-template-tokens-2026-12-07.md).
 */
export const DEMO_RECIPE: DemoRecipe = {
  preset: "tiny",
  modelOverrides: { tie_word_embeddings: true },
  itemTokens: true,
  templateTokens: true,
  dropListSeparators: true,
  seed: 42,
  subsequences: true,
  copyRows: 0.25,
  skipRows: 0,
  trainRows: undefined,
  preferenceRows: 8192,
  answerNegatives: false,
  curveEvalRows: 64,
  testRows: undefined,
  evalBatchSize: 32,
  maxNewTokens: 20,
  negativesFigure: [1, 3, 7, 15],
  baselines: ["random", "popularity", "cooccurrence", "sasrec"],
  sasrecEpochs: 3,
  sftRanks: 1,
  sft: { learningRate: 6e-3, weightDecay: 0.2, numTrainEpochs: 24, batchSize: 32, warmupRatio: 0.03, lrSchedulerType: "cosine", evalSteps: 0, seed: 42, listSmoothing: 0.1, negatives: 19 },
  // Off: NAMING_STAGE moved ValidRatio by -0.011, -0.019 and +0.049 on seeds 42, 43, 44 (list-term-2026-12-06.md).
  naming: undefined,
  namingRows: undefined,
  dpo: { learningRate: 1e-4, beta: 1.0, negatives: 1, chosenNllWeight: 5, numTrainEpochs: 1, batchSize: 16, warmupRatio: 0.05, evalSteps: 128, seed: 42 },
  sdpo: { learningRate: 1e-4, beta: 1.0, negatives: 3, chosenNllWeight: 5, numTrainEpochs: 1, batchSize: 16, warmupRatio: 0.05, evalSteps: 128, seed: 42 },
};

/** The naming stage as measured (bench/recipe/list-term-2026-12-06.md): one epoch of sft with the candidate-list
 *  term over all 19 other candidates, on the SFT model. `{ ...DEMO_RECIPE, naming: NAMING_STAGE }` turns it on. */
export const NAMING_STAGE: DemoRunOptions = {
  listWeight: 2, negatives: 19, learningRate: 1e-3, numTrainEpochs: 1, batchSize: 32, warmupRatio: 0.03, lrSchedulerType: "cosine", evalSteps: 0, seed: 42,
};

/** `sdpo demo --full`: the default recipe with 36 SFT epochs instead of 24 (about 1.4 times the time; not measured
 *  with the template tokens). More epochs were the lever that moved ValidRatio most before them
 *  (bench/recipe/epochs-decay-skip-rpo-2026-12-06.md, bench/demo/results-full-2026-12-06-night.md). */
export const FULL_RECIPE: DemoRecipe = {
  ...DEMO_RECIPE,
  sft: { ...DEMO_RECIPE.sft, numTrainEpochs: 36 },
};

export const QUICK_RECIPE: DemoRecipe = {
  ...DEMO_RECIPE,
  preset: "tiny",
  trainRows: 128,
  namingRows: 64,
  preferenceRows: 64,
  curveEvalRows: 16,
  testRows: 32,
  negativesFigure: [1, 7],
  baselines: ["random", "popularity", "cooccurrence"],
  sasrecEpochs: 1,
  sft: { ...DEMO_RECIPE.sft, numTrainEpochs: 1, evalSteps: 2 },
  dpo: { ...DEMO_RECIPE.dpo, evalSteps: 2 },
  sdpo: { ...DEMO_RECIPE.sdpo, evalSteps: 2 },
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

/** How a recipe's data is tokenized beyond one token per artist name (itemTokenData's options). */
export function itemTokenOptions(recipe: Pick<DemoRecipe, "templateTokens" | "dropListSeparators">): ItemTokenOptions {
  return { templateTokens: recipe.templateTokens, dropListSeparators: recipe.dropListSeparators };
}
