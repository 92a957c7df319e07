/**
 * PreferenceBatch -> the native training batch.
 *
 * Responses are laid out [chosen of example 0..B-1, then the real negatives of example 0, 1, ...];
 * every response points at its example's prompt, which the model encodes once. Prompt tokens are a
 * zero-copy view of the batch's buffer; chosen and rejected tokens are copied once into one array
 * because the native side takes one packed list of responses.
 */
import type { PackedTokens, PreferenceBatch } from "../data/batch";
import type { TrainBatchInput } from "../native";

/** Tokens of list i of a packed array (a view, no copy). */
export function listAt(tokens: PackedTokens, i: number): Int32Array {
  return tokens.values.subarray(tokens.offsets[i], tokens.offsets[i + 1]);
}

/** Offsets rebased to start at 0 and the matching view of the values. */
function rebased(tokens: PackedTokens, lists: number): { values: Int32Array; offsets: Int32Array } {
  const base = tokens.offsets[0];
  const offsets = new Int32Array(lists + 1);
  for (let i = 0; i <= lists; i++) offsets[i] = tokens.offsets[i] - base;
  return { values: tokens.values.subarray(base, tokens.offsets[lists]), offsets };
}

export interface PackOptions {
  /** Include the rejected responses (false for sft). */
  withRejected: boolean;
  /** Include the history's first tokens (sft's historyUnlikelihood); the batch must carry them. */
  withHistory?: boolean;
}

/** A negative is masked when its token list is empty or its item id is negative. */
export function isRealNegative(batch: PreferenceBatch, j: number): boolean {
  const n = batch.rejected.offsets[j + 1] - batch.rejected.offsets[j];
  return n > 0 && !(batch.rejectedItems.length > j && batch.rejectedItems[j] < 0);
}

export function packBatch(batch: PreferenceBatch, options: PackOptions): TrainBatchInput {
  const B = batch.size;
  if (!(B >= 1)) throw new RangeError("packBatch: the batch holds no examples");
  const K = options.withRejected ? batch.negatives : 0;
  if (options.withRejected && K < 1) {
    throw new RangeError(`packBatch: rows ${batch.rows[0]}..${batch.rows[B - 1]} carry no negatives, and this loss needs them`);
  }
  const prompt = rebased(batch.prompt, B);
  const chosen = rebased(batch.chosen, B);

  let rejectedTokens = 0;
  let realNegatives = 0;
  for (let j = 0; j < B * K; j++) {
    if (isRealNegative(batch, j)) {
      realNegatives++;
      rejectedTokens += batch.rejected.offsets[j + 1] - batch.rejected.offsets[j];
    }
  }
  const R = B + realNegatives;
  const responseIds = new Int32Array(chosen.values.length + rejectedTokens);
  const responseOffsets = new Int32Array(R + 1);
  const responsePrompt = new Int32Array(R);
  const chosenIndex = new Int32Array(B);
  const rejectedIndex = new Int32Array(B * K).fill(-1);

  responseIds.set(chosen.values, 0);
  responseOffsets.set(chosen.offsets, 0);
  for (let b = 0; b < B; b++) {
    responsePrompt[b] = b;
    chosenIndex[b] = b;
  }
  let r = B;
  let at = chosen.values.length;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const j = b * K + k;
      if (!isRealNegative(batch, j)) continue;
      const tokens = listAt(batch.rejected, j);
      responseIds.set(tokens, at);
      at += tokens.length;
      responseOffsets[r + 1] = at;
      responsePrompt[r] = b;
      rejectedIndex[j] = r;
      r++;
    }
  }
  const history = options.withHistory ? historyTokens(batch) : undefined;
  return {
    ...history,
    promptIds: prompt.values,
    promptOffsets: prompt.offsets,
    responseIds,
    responseOffsets,
    responsePrompt,
    chosenIndex,
    rejectedIndex,
  };
}

/** The batch's history first tokens, offsets rebased to 0; a clear error when the batch carries none. */
function historyTokens(batch: PreferenceBatch): { historyTokenIds: Int32Array; historyTokenOffsets: Int32Array } {
  const history = batch.historyFirstTokens;
  if (!history || history.offsets.length !== batch.size + 1) {
    throw new RangeError(
      `packBatch: rows ${batch.rows[0]}..${batch.rows[batch.size - 1]} carry no history tokens, and historyUnlikelihood needs them ` +
        "(ResampledDataset's batches carry them; a PreferenceDataset's do not)",
    );
  }
  const { values, offsets } = rebased(history, batch.size);
  return { historyTokenIds: values, historyTokenOffsets: offsets };
}

/** Tokens of the chosen responses of a batch (the sft loss averages over them). */
export function chosenTokenCount(batch: PreferenceBatch): number {
  return batch.chosen.offsets[batch.size] - batch.chosen.offsets[0];
}
