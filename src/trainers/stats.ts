/** Weighted means of per-batch statistics (micro-batches of one step, batches of one evaluation). */
import type { TrainStepStats } from "../native";

export interface MeanStats {
  loss: number;
  chosenReward: number;
  rejectedReward: number;
  rewardAccuracy: number;
  rewardMargin: number;
  examples: number;
  tokens: number;
}

export class StatsAccumulator {
  private lossSum = 0;
  private lossWeight = 0;
  private sums = { chosenReward: 0, rejectedReward: 0, rewardAccuracy: 0, rewardMargin: 0 };
  private examples = 0;
  private tokens = 0;

  /** `lossWeight`: what the loss is a mean over (examples, or chosen tokens for sft). */
  add(stats: TrainStepStats, lossWeight: number): void {
    this.lossSum += stats.loss * lossWeight;
    this.lossWeight += lossWeight;
    for (const key of Object.keys(this.sums) as (keyof typeof this.sums)[]) this.sums[key] += stats[key] * stats.examples;
    this.examples += stats.examples;
    this.tokens += stats.tokens;
  }

  /** The running sums, to add up over data-parallel ranks (fromSums of their sum is the global mean). */
  toSums(): number[] {
    const s = this.sums;
    return [this.lossSum, this.lossWeight, s.chosenReward, s.rejectedReward, s.rewardAccuracy, s.rewardMargin, this.examples, this.tokens];
  }

  static fromSums(values: ArrayLike<number>): StatsAccumulator {
    if (values.length !== 8) throw new RangeError(`StatsAccumulator.fromSums: 8 sums expected, got ${values.length}`);
    const acc = new StatsAccumulator();
    [acc.lossSum, acc.lossWeight] = [values[0], values[1]];
    acc.sums = { chosenReward: values[2], rejectedReward: values[3], rewardAccuracy: values[4], rewardMargin: values[5] };
    [acc.examples, acc.tokens] = [values[6], values[7]];
    return acc;
  }

  get count(): number {
    return this.examples;
  }

  mean(): MeanStats {
    const per = (v: number) => (this.examples > 0 ? v / this.examples : NaN);
    return {
      loss: this.lossWeight > 0 ? this.lossSum / this.lossWeight : NaN,
      chosenReward: per(this.sums.chosenReward),
      rejectedReward: per(this.sums.rejectedReward),
      rewardAccuracy: per(this.sums.rewardAccuracy),
      rewardMargin: per(this.sums.rewardMargin),
      examples: this.examples,
      tokens: this.tokens,
    };
  }
}
