/**
 * Where a training step's negatives come from, and the packed batch the native step gets:
 *   plain        the data's negatives ("fixed", or "random": drawn by the data layer per epoch): the trainer
 *                packs those itself (packBatch, with precomputed reference log-probs where asked);
 *   in-batch     shareInBatchNegatives: each row also takes the other rows' items (NAPO), seeded per step;
 *   pool / hard  a NegativePool (RoDPO): each row draws K negatives from the poolSize candidates the policy
 *                scores highest ("pool": uniformly, "hard": the top K).
 *
 * Pool refresh: a row's pool is built the first time its batch comes up and rebuilt when its batch comes up
 * again once poolRefreshSteps optimizer steps have passed since; the whole batch's candidates are then
 * scored in one no-gradient call (model.score, the current policy). Rows therefore keep pools as fresh as
 * the refresh period allows without scoring the whole data set at once. The pools, their refresh steps and
 * the sampling generator are saved in trainer_state.json and restored on resume.
 *
 * Data parallelism: every rank keeps the pools of every row. Each rank scores its shard of the global batch's
 * candidates, the scores are summed over the ranks (each candidate's slot is zero on the other ranks), every
 * rank refreshes and draws for the whole global batch, and keeps its own rows: the same pools, generator state
 * and negatives as one process would have.
 */
import type { PreferenceBatch } from "../data/batch";
import { mixSeed } from "../rng";
import type { Model } from "../model/model";
import type { TrainBatchInput } from "../native";
import { shareInBatchNegatives } from "../negatives/in-batch";
import type { NegativeLayout } from "../negatives/layout";
import { NegativePool, type NegativePoolState } from "../negatives/pool";
import { drawPoolItems, packCandidates, poolLayout } from "../negatives/pool-batch";
import type { DataParallel } from "../distributed/data_parallel";
import type { ResolvedOptions } from "./options";

/** What trainer_state.json keeps of the pool. */
export interface PoolCheckpoint {
  pool: NegativePoolState;
  /** [row, optimizer step of its last refresh], sorted by row. */
  refreshedAt: Array<[number, number]>;
}

/** A data-parallel rank's part of a pooled global batch: its process group, its rows (null: none) and their
 *  positions in the global batch. */
export interface PoolShard {
  group: DataParallel;
  shard: PreferenceBatch | null;
  positions: readonly number[];
}

/** Seed stream of the pool's sampler, apart from the data order's and in-batch sharing's. */
const POOL_STREAM = 0x706f6f6c;

function layoutInput(layout: NegativeLayout): TrainBatchInput {
  const { promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt, chosenIndex, rejectedIndex } = layout;
  return { promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt, chosenIndex, rejectedIndex };
}

export class StepNegatives {
  private pool: NegativePool | undefined;
  private readonly refreshedAt = new Map<number, number>();
  /** Candidate scorings done (for tests and reports). */
  refreshes = 0;

  constructor(private readonly options: ResolvedOptions, private readonly model: Model) {
    if (this.pooled) this.pool = new NegativePool({ poolSize: options.poolSize!, selection: this.selection, seed: mixSeed(options.seed, POOL_STREAM) });
  }

  get pooled(): boolean {
    return this.options.negativeSampling === "pool" || this.options.negativeSampling === "hard";
  }

  private get selection(): "random" | "hard" {
    return this.options.negativeSampling === "hard" ? "hard" : "random";
  }

  /** The pool (pool / hard sampling only). */
  get negativePool(): NegativePool | undefined {
    return this.pool;
  }

  /** Whether steps get their negatives here (in-batch or pooled) rather than from the data (packBatch). */
  get buildsNegatives(): boolean {
    return this.pool !== undefined || this.options.inBatchNegatives !== null;
  }

  /** The native batch of micro-batch `micro` of optimizer step `step` (0-based: steps done before it). */
  async forStep(batch: PreferenceBatch, step: number, micro: number): Promise<TrainBatchInput> {
    const o = this.options;
    if (this.pool) return this.poolInput(batch, await this.drawPool(batch, step));
    if (!o.inBatchNegatives) throw new Error("StepNegatives.forStep: this run takes its negatives from the data (use packBatch)");
    const cap = o.inBatchNegatives.cap ?? undefined;
    return layoutInput(shareInBatchNegatives(batch, { cap, seed: mixSeed(o.seed, step, micro) }));
  }

  /**
   * pool / hard: refreshes the stale pools of the (global) batch's rows and draws every row's negatives. With
   * `dp`, every rank must call this for every global batch, rows of its own or not: `shard` (this rank's
   * positions in `batch`) says which candidates it scores.
   */
  async drawPool(batch: PreferenceBatch, step: number, dp?: PoolShard): Promise<Int32Array[]> {
    if (!this.pool) throw new Error("StepNegatives.drawPool: this run samples no pool");
    await this.refreshStale(batch, step, dp);
    return drawPoolItems(batch, this.pool, this.options.negatives);
  }

  /** The native batch of `batch` with the negatives drawPool() drew for its rows. */
  poolInput(batch: PreferenceBatch, items: readonly ArrayLike<number>[]): TrainBatchInput {
    return layoutInput(poolLayout(batch, items));
  }

  /** Rescores the batch's candidates when any of its rows has no pool or one older than poolRefreshSteps. */
  private async refreshStale(batch: PreferenceBatch, step: number, dp?: PoolShard): Promise<void> {
    const period = this.options.poolRefreshSteps!;
    let stale = false;
    for (let b = 0; b < batch.size && !stale; b++) {
      const at = this.refreshedAt.get(batch.rows[b]);
      stale = at === undefined || step - at >= period;
    }
    if (!stale) return;
    let scores: ArrayLike<number>;
    if (!dp) {
      scores = (await this.model.native.score(packCandidates(batch))).logps;
    } else {
      const all = new Array<number>(batch.candidateOffsets[batch.size]).fill(0);
      if (dp.shard) {
        const { logps } = await this.model.native.score(packCandidates(dp.shard));
        dp.positions.forEach((p, j) => {
          const from = dp.shard!.candidateOffsets[j];
          const to = batch.candidateOffsets[p];
          for (let c = 0; c < dp.shard!.candidateOffsets[j + 1] - from; c++) all[to + c] = logps[from + c];
        });
      }
      scores = await dp.group.allReduceSum(all, `RoDPO pool scores of optimizer step ${step + 1}`);
    }
    this.pool!.refresh({
      rows: batch.rows,
      positives: batch.chosenItem,
      candidateOffsets: batch.candidateOffsets,
      candidateItems: batch.candidateItems,
      scores,
    });
    for (let b = 0; b < batch.size; b++) this.refreshedAt.set(batch.rows[b], step);
    this.refreshes++;
  }

  toJSON(): PoolCheckpoint | undefined {
    if (!this.pool) return undefined;
    return { pool: this.pool.toJSON(), refreshedAt: [...this.refreshedAt].sort((x, y) => x[0] - y[0]) };
  }

  restore(saved: PoolCheckpoint | undefined): void {
    if (!this.pool) return;
    if (!saved || typeof saved !== "object" || !saved.pool || !Array.isArray(saved.refreshedAt)) {
      throw new Error(`resumeFrom: the checkpoint holds no negative pool, and this run samples negatives with '${this.options.negativeSampling}'`);
    }
    const pool = NegativePool.fromJSON(saved.pool);
    if (pool.poolSize !== this.pool.poolSize || pool.selection !== this.pool.selection) {
      throw new Error(`resumeFrom: the checkpoint's pool (size ${pool.poolSize}, ${pool.selection}) differs from this run's (size ${this.pool.poolSize}, ${this.pool.selection})`);
    }
    this.pool = pool;
    this.refreshedAt.clear();
    for (const [row, step] of saved.refreshedAt) this.refreshedAt.set(row, step);
  }
}
