/**
 * On-policy negatives: the policy's own greedy answer to each prompt as a rejected response.
 *
 * Negatives drawn from the candidate list teach ranking within the list. They never push down an answer outside
 * it, and that is how a recommender fails free generation (ValidRatio): it names an item the list does not hold.
 * Here, before each batch is trained on, the model being trained answers every prompt greedily. Where that answer
 * is neither the chosen response nor already one of the row's negatives, it replaces the row's last negative.
 * RoDPO draws negatives from the policy's own top-ranked items, refreshed during training; this is the top-1 of
 * the policy's generation, refreshed every batch.
 *
 * The reference log-probs of such a negative cannot be known before training, so it needs a reference policy that
 * scores during training (the trainers' default). referenceMode "precomputed" refuses it: it has not scored it.
 */
import type { PackedTokens, PreferenceBatch } from "../data/batch";
import type { BatchRequest, PreferenceSource } from "../trainers/source";
import { listAt } from "./layout";

/** Item id of an answer that spells none of the row's candidates (a real negative: ids >= 0 are kept). */
export const UNLISTED_ITEM = 0x7fffffff;

/** What answering needs of a model: greedy decoding, each answer's new tokens with its EOS (Model.generate). */
export interface AnsweringModel {
  generate(prompts: PackedTokens, options: { maxNewTokens: number; eos: number }): Promise<number[][]>;
}

export interface ModelAnswerOptions {
  /** The tokenizer's EOS id: answers end with it, as the data's responses do. */
  eos: number;
  /** Longest answer generated, in tokens; default 20 (the paper's evaluation protocol). */
  maxNewTokens?: number;
}

/** Counts over the batches answered so far. */
export interface ModelAnswerStats {
  /** Rows answered. */
  rows: number;
  /** Rows whose last negative was replaced by the model's answer. */
  replaced: number;
  /** Of those, answers that spell none of the row's candidates. */
  unlisted: number;
}

function sameTokens(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class ModelAnswerNegatives implements PreferenceSource {
  readonly stats: ModelAnswerStats = { rows: 0, replaced: 0, unlisted: 0 };
  private readonly eos: number;
  private readonly maxNewTokens: number;

  constructor(
    private readonly inner: PreferenceSource,
    private readonly model: AnsweringModel,
    options: ModelAnswerOptions
  ) {
    if (!inner || typeof inner.batches !== "function" || typeof inner.countRows !== "function") throw new TypeError("ModelAnswerNegatives: the data must be a PreferenceDataset or another source with batches() and countRows()");
    if (!model || typeof model.generate !== "function") throw new TypeError("ModelAnswerNegatives: the model must have generate() (a Model from createModel or loadModel)");
    if (!Number.isInteger(options?.eos) || options.eos < 0) throw new RangeError(`ModelAnswerNegatives: eos must be a token id (an integer >= 0), got ${String(options?.eos)}`);
    const maxNewTokens = options.maxNewTokens ?? 20;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > 4096) throw new RangeError(`ModelAnswerNegatives: maxNewTokens must be an integer from 1 to 4096, got ${maxNewTokens}`);
    this.eos = options.eos;
    this.maxNewTokens = maxNewTokens;
  }

  /** Whether the wrapped data re-draws candidate lists (the trainers refuse pool sampling on such data). */
  get redrawsCandidates(): boolean {
    return (this.inner as { redrawsCandidates?: boolean }).redrawsCandidates === true;
  }

  countRows(): Promise<number> {
    return this.inner.countRows();
  }

  async *batches(request: BatchRequest): AsyncIterable<PreferenceBatch> {
    for await (const batch of this.inner.batches(request)) yield batch.negatives > 0 ? await this.withAnswers(batch) : batch;
  }

  /** The batch with each row's last negative replaced by the model's answer where that answer is a new negative. */
  async withAnswers(batch: PreferenceBatch): Promise<PreferenceBatch> {
    const B = batch.size;
    const K = batch.negatives;
    const answers = await this.model.generate(batch.prompt, { maxNewTokens: this.maxNewTokens, eos: this.eos });
    if (answers.length !== B) throw new Error(`ModelAnswerNegatives: the model answered ${answers.length} prompts of ${B}`);
    const replacement = new Map<number, { tokens: number[]; item: number }>();
    for (let b = 0; b < B; b++) {
      const answer = answers[b][answers[b].length - 1] === this.eos ? answers[b] : [...answers[b], this.eos];
      this.stats.rows++;
      if (sameTokens(answer, listAt(batch.chosen, b))) continue;
      let known = false;
      for (let k = 0; k < K && !known; k++) known = sameTokens(answer, listAt(batch.rejected, b * K + k));
      if (known) continue;
      let item = UNLISTED_ITEM;
      for (let c = batch.candidateOffsets[b]; c < batch.candidateOffsets[b + 1]; c++) {
        if (sameTokens(answer, listAt(batch.candidates, c))) {
          item = batch.candidateItems[c];
          break;
        }
      }
      replacement.set(b * K + K - 1, { tokens: answer, item });
      this.stats.replaced++;
      if (item === UNLISTED_ITEM) this.stats.unlisted++;
    }
    if (replacement.size === 0) return batch;
    const values: number[] = [];
    const offsets = new Int32Array(B * K + 1);
    const rejectedItems = Int32Array.from(batch.rejectedItems);
    for (let j = 0; j < B * K; j++) {
      const swap = replacement.get(j);
      for (const t of swap ? swap.tokens : listAt(batch.rejected, j)) values.push(t);
      offsets[j + 1] = values.length;
      if (swap) rejectedItems[j] = swap.item;
    }
    return { ...batch, rejected: { values: Int32Array.from(values), offsets }, rejectedItems };
  }
}
