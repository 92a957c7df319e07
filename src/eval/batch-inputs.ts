/**
 * Turning a PreferenceBatch into the packed inputs of model.score / model.generate: fresh arrays whose
 * offsets start at 0 (the batch's are views on Arrow buffers and may start anywhere).
 */
import type { PackedTokens, PreferenceBatch } from "../data/batch";
import type { PackedResponsesInput } from "../native";

/** Copies lists first..last-1 of `packed` into new values + offsets starting at 0. */
export function repack(packed: PackedTokens, first: number, last: number): { values: Int32Array; offsets: Int32Array } {
  if (first < 0 || last < first || last + 1 > packed.offsets.length) {
    throw new RangeError(`repack: lists ${first}..${last} are outside the ${packed.offsets.length - 1} lists`);
  }
  const base = packed.offsets[first];
  const end = packed.offsets[last];
  const offsets = new Int32Array(last - first + 1);
  for (let i = first; i <= last; i++) offsets[i - first] = packed.offsets[i] - base;
  return { values: packed.values.slice(base, end), offsets };
}

/** Index, within example b's candidates, of the chosen item; throws naming the row when absent. */
export function targetIndex(batch: PreferenceBatch, b: number): number {
  const first = batch.candidateOffsets[b];
  const last = batch.candidateOffsets[b + 1];
  for (let j = first; j < last; j++) {
    if (batch.candidateItems[j] === batch.chosenItem[b]) return j - first;
  }
  throw new RangeError(
    `evaluate: row ${batch.rows[b]}: the chosen item ${batch.chosenItem[b]} is not among its ${last - first} candidates`
  );
}

/** Every candidate of every example scored against its own prompt. */
export function candidateScoringInput(batch: PreferenceBatch): PackedResponsesInput {
  const prompts = repack(batch.prompt, 0, batch.size);
  const firstCandidate = batch.candidateOffsets[0];
  const lastCandidate = batch.candidateOffsets[batch.size];
  const responses = repack(batch.candidates, firstCandidate, lastCandidate);
  const responsePrompt = new Int32Array(lastCandidate - firstCandidate);
  for (let b = 0; b < batch.size; b++) {
    for (let j = batch.candidateOffsets[b]; j < batch.candidateOffsets[b + 1]; j++) responsePrompt[j - firstCandidate] = b;
  }
  return {
    promptIds: prompts.values,
    promptOffsets: prompts.offsets,
    responseIds: responses.values,
    responseOffsets: responses.offsets,
    responsePrompt,
  };
}
