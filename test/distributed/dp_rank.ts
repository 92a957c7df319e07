/**
 * One training process of the data-parallel tests: trains the tiny float64 model on `data` with the launch
 * variables it was started with (none: alone), then writes its trainable parameters (or its error) to
 * `${out}/rank-${RANK}.json`. Options come as JSON in DP_TEST.
 *   { loss, data, batchSize, out, lora?, killAfterStep?, timeoutMs?, bucketBytes?, gradientAccumulationSteps?,
 *     device? ("cpu"), backend? ("gloo"), outputDir?, saveSteps?, resumeFrom?, eval? (evaluated at the end),
 *     options? (more trainer options, e.g. a RoDPO pool) }
 * killAfterStep: this rank kills itself (SIGKILL) once that optimizer step is done: a rank that dies.
 * abortAfterStep: this rank's fit() signal is aborted once that step is done (a stop request on one rank).
 */
import { writeFileSync } from "fs";
import { join } from "path";
import { createModel } from "../../src/model/checkpoint";
import { Model } from "../../src/model/model";
import { native, type DeviceName } from "../../src/native";
import { createTrainer } from "../../src/trainers/registry";
import type { LossName } from "../../src/trainers/types";
import { tinyConfig } from "../trainers/fixtures";

interface RankTest {
  loss: LossName;
  data: string;
  batchSize: number;
  out: string;
  lora?: boolean;
  killAfterStep?: number;
  abortAfterStep?: number;
  timeoutMs?: number;
  bucketBytes?: number;
  gradientAccumulationSteps?: number;
  device?: DeviceName;
  backend?: "gloo" | "nccl";
  outputDir?: string;
  saveSteps?: number;
  resumeFrom?: string;
  eval?: string;
  options?: Record<string, unknown>;
}

function trainableValues(model: Model): Record<string, number[]> {
  const params: Record<string, number[]> = {};
  for (const p of model.native.parameterInfo().filter((q) => q.trainable)) {
    const bytes = model.native.getTensor(p.name).data;
    params[p.name] = Array.from(new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  }
  return params;
}

async function main(): Promise<void> {
  const t = JSON.parse(process.env.DP_TEST ?? "{}") as RankTest;
  const rank = process.env.RANK ?? "alone";
  const file = join(t.out, `rank-${rank}.json`);
  native().setNumThreads(1);
  try {
    const loaded = createModel(tinyConfig, { device: t.device ?? "cpu", dtype: "float64", seed: 42, lora: t.lora ? { rank: 4, dropout: 0 } : undefined });
    const model = new Model(loaded.native);
    const trainer = createTrainer(t.loss, {
      model,
      batchSize: t.batchSize,
      learningRate: 1e-3,
      gradientAccumulationSteps: t.gradientAccumulationSteps ?? 1,
      ...(t.outputDir !== undefined ? { outputDir: t.outputDir, saveSteps: t.saveSteps ?? 0 } : {}),
      ...(t.options ?? {}),
      distributed: { backend: t.backend ?? "gloo", timeoutMs: t.timeoutMs ?? 30000, ...(t.bucketBytes !== undefined ? { bucketBytes: t.bucketBytes } : {}) },
    });
    const initial = trainableValues(model);
    const losses: number[] = [];
    trainer.on("step", (e) => {
      losses.push(e.loss);
      if (t.killAfterStep === e.step) process.kill(process.pid, "SIGKILL");
      if (t.abortAfterStep === e.step) stop.abort();
    });
    const stop = new AbortController();
    const report = await trainer.fit(t.data, { resumeFrom: t.resumeFrom, signal: stop.signal, eval: t.eval });
    writeFileSync(file, JSON.stringify({ steps: report.steps, aborted: report.aborted, lastEval: report.lastEval, losses, params: trainableValues(model), initial }));
  } catch (err) {
    writeFileSync(file, JSON.stringify({ error: (err as Error).message }));
    process.exitCode = 1;
  } finally {
    await native().destroyDistributed();
  }
}

void main();
