/**
 * Next-item examples for training an item-vocabulary decoder with the SFT trainer: from each sequence
 * (a training row's history followed by its target), every non-empty prefix predicts the item after it.
 * Prompt = [BOS, s_0 .. s_{i-1}], chosen response = [s_i] (one token, no EOS), for i = 1 .. L-1.
 * Held in memory; shuffled per (seed, epoch) and resumable by skipping whole batches, as the trainers expect.
 */
import type { PackedTokens, PreferenceBatch } from "../data/batch";
import { mixSeed, SeededRng } from "../rng";
import type { BatchRequest, PreferenceSource } from "../trainers/source";

/** One next-item example: a prefix of a sequence and the item after it. */
export interface NextItemExample {
  sequence: number;
  /** Items before the predicted one. */
  prefix: number;
}

const EMPTY_TEXT: PreferenceBatch["text"] = { prompt: [], chosen: [], candidates: [] };

export class NextItemSource implements PreferenceSource {
  private readonly examples: NextItemExample[] = [];

  /** `sequences`: token ids (item ids), oldest first; `bos`: the token every prompt starts with. */
  constructor(private readonly sequences: readonly Int32Array[], private readonly bos: number) {
    sequences.forEach((seq, sequence) => {
      for (let prefix = 1; prefix < seq.length; prefix++) this.examples.push({ sequence, prefix });
    });
  }

  async countRows(): Promise<number> {
    return this.examples.length;
  }

  /** The examples in epoch order: a seeded shuffle per (seed, epoch), or file order. */
  private order(request: Pick<BatchRequest, "shuffle" | "seed" | "epoch">): NextItemExample[] {
    const examples = [...this.examples];
    return request.shuffle ? new SeededRng(mixSeed(request.seed, request.epoch, 0x5a5ec)).shuffle(examples) : examples;
  }

  async *batches(request: BatchRequest): AsyncGenerator<PreferenceBatch> {
    const B = request.batchSize;
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`batchSize must be a positive integer, got ${B}`);
    if (request.negatives !== 0) throw new RangeError(`next-item examples carry no negatives (negatives must be 0, got ${request.negatives})`);
    const examples = this.order(request);
    for (let start = request.skipBatches * B; start < examples.length; start += B) {
      yield this.build(examples.slice(start, start + B));
    }
  }

  build(examples: readonly NextItemExample[]): PreferenceBatch {
    const size = examples.length;
    const promptOffsets = new Int32Array(size + 1);
    examples.forEach((e, b) => (promptOffsets[b + 1] = promptOffsets[b] + 1 + e.prefix));
    const promptValues = new Int32Array(promptOffsets[size]);
    const chosenItem = new Int32Array(size);
    const rows = new Int32Array(size);
    examples.forEach((e, b) => {
      const seq = this.sequences[e.sequence];
      promptValues[promptOffsets[b]] = this.bos;
      promptValues.set(seq.subarray(0, e.prefix), promptOffsets[b] + 1);
      chosenItem[b] = seq[e.prefix];
      rows[b] = e.sequence;
    });
    const none: PackedTokens = { values: new Int32Array(0), offsets: new Int32Array(1) };
    return {
      size,
      rows,
      prompt: { values: promptValues, offsets: promptOffsets },
      chosen: { values: Int32Array.from(chosenItem), offsets: Int32Array.from({ length: size + 1 }, (_, i) => i) },
      negatives: 0,
      rejected: none,
      chosenItem,
      rejectedItems: new Int32Array(0),
      candidates: none,
      candidateOffsets: new Int32Array(size + 1),
      candidateItems: new Int32Array(0),
      text: EMPTY_TEXT,
    };
  }
}
