/**
 * PreferenceBatch: what the data layer hands the trainers. Token lists are packed the way Arrow
 * stores them (values + offsets), as views on the Arrow buffers where possible (zero-copy).
 */

/** list i is values[offsets[i] .. offsets[i + 1]); offsets.length = lists + 1, offsets[0] may be > 0. */
export interface PackedTokens {
  values: Int32Array;
  offsets: Int32Array;
}

export interface PreferenceBatch {
  /** B, the number of examples. */
  size: number;
  /** [B] row number of each example in its source file (for error messages). */
  rows: Int32Array;
  /** [B] prompt token lists. */
  prompt: PackedTokens;
  /** [B] chosen response token lists (the response ends with the tokenizer's EOS). */
  chosen: PackedTokens;
  /** K, the number of negatives per example in `rejected` (0 for SFT batches). */
  negatives: number;
  /** [B * K] rejected response token lists, row-major [B][K]. */
  rejected: PackedTokens;
  /** [B] chosen item ids, [B * K] rejected item ids. */
  chosenItem: Int32Array;
  rejectedItems: Int32Array;
  /** Candidate lists (evaluation, pool sampling): candidates of example b are lists
   *  candidateOffsets[b] .. candidateOffsets[b + 1] of `candidates`, with item ids in candidateItems. */
  candidates: PackedTokens;
  candidateOffsets: Int32Array;
  candidateItems: Int32Array;
  /** [B] lists of the first tokens of each example's history items that are no candidate's first token: answers
   *  the example should not give (sft's `historyUnlikelihood`). Filled by ResampledDataset; absent elsewhere. */
  historyFirstTokens?: PackedTokens;
  /** Texts, for generation-based evaluation (ValidRatio, HR@1). */
  text: { prompt: string[]; chosen: string[]; candidates: string[][]; history?: string[][] };
}
