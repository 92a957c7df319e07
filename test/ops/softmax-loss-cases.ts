/**
 * The softmax preference losses as test cases: S-DPO, and NAPO with a fixed or a dynamic margin (S-DPO with a
 * margin per negative; one fused op computes both). Each case makes its inputs, runs the op and has a plain JS
 * oracle, so the checks of preference-losses.test.ts and cuda.test.ts run once per loss.
 */
import type { FloatArray, NapoLossInputs, NapoMarginMode, OpDevice, OpImplementation, PreferenceLossResult } from "../../src/native";
import { sdpoLoss } from "../../src/ops/losses";
import { napoLoss } from "../../src/ops/napo";
import { preferenceFixture, randomArray, rng, type FloatCtor } from "./support";

export interface RunOptions {
  beta: number;
  grad?: boolean;
  implementation?: OpImplementation;
  device?: OpDevice;
  /** Replaces the case's margin scale (NAPO only; 0: no margin). */
  gamma?: number;
}

export interface SoftmaxLossCase {
  name: string;
  /** The margin of a NAPO case; null for S-DPO. */
  margin: { mode: NapoMarginMode; gamma: number; tau: number } | null;
  /** S-DPO inputs, plus confidences for the dynamic margin (log-prob-like scores around -5, no gradient). */
  fixture<C extends FloatCtor>(ctor: C, rows: number, negatives: number, seed: number, masked?: boolean): NapoLossInputs<InstanceType<C>>;
  run<T extends FloatArray>(inputs: NapoLossInputs<T>, options: RunOptions): PreferenceLossResult<T> & { margins?: T };
  /** Per-row losses and the margins used ([B*K], 0 where masked), in plain JS, max-shifted. */
  oracle(inputs: NapoLossInputs, beta: number, gamma?: number): { losses: number[]; margins: number[] };
}

export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

function marginOracle(inputs: NapoLossInputs, beta: number, margin: (b: number, i: number) => number): { losses: number[]; margins: number[] } {
  const rows = inputs.policyChosen.length;
  const negatives = inputs.policyRejected.length / rows;
  const losses: number[] = [];
  const margins: number[] = [];
  for (let b = 0; b < rows; b++) {
    const chosen = beta * (inputs.policyChosen[b] - inputs.referenceChosen[b]);
    const z: number[] = [];
    for (let j = 0; j < negatives; j++) {
      const i = b * negatives + j;
      if (inputs.mask && !inputs.mask[i]) {
        margins.push(0);
        continue;
      }
      const m = margin(b, i);
      margins.push(m);
      z.push(beta * (inputs.policyRejected[i] - inputs.referenceRejected[i]) - chosen + m);
    }
    const max = Math.max(...z);
    const lse = max + Math.log(z.reduce((s, g) => s + Math.exp(g - max), 0));
    losses.push(Math.max(lse, 0) + Math.log1p(Math.exp(-Math.abs(lse))));
  }
  return { losses, margins };
}

const sdpo: SoftmaxLossCase = {
  name: "sdpo",
  margin: null,
  fixture: (ctor, rows, negatives, seed, masked = false) => preferenceFixture(ctor, rows, negatives, seed, masked),
  run: (inputs, { gamma: _gamma, ...options }) => sdpoLoss(inputs, options),
  oracle: (inputs, beta) => marginOracle(inputs, beta, () => 0),
};

function napo(mode: NapoMarginMode): SoftmaxLossCase {
  const margin = { mode, gamma: 1.3, tau: 0.8 };
  return {
    name: `napo ${mode}`,
    margin,
    fixture: (ctor, rows, negatives, seed, masked = false) => {
      const fx: NapoLossInputs<InstanceType<typeof ctor>> = preferenceFixture(ctor, rows, negatives, seed, masked);
      if (mode === "dynamic") {
        const random = rng(seed + 1000);
        fx.chosenConfidence = randomArray(ctor, rows, random, 3);
        fx.rejectedConfidence = randomArray(ctor, rows * negatives, random, 3);
      }
      return fx;
    },
    run: (inputs, { gamma, ...options }) => napoLoss(inputs, { ...options, mode, gamma: gamma ?? margin.gamma, tau: margin.tau }),
    oracle: (inputs, beta, gamma = margin.gamma) =>
      marginOracle(inputs, beta, (b, i) =>
        mode === "fixed" ? gamma : gamma * sigmoid((inputs.rejectedConfidence![i] - inputs.chosenConfidence![b]) / margin.tau)
      ),
  };
}

export const softmaxLosses: SoftmaxLossCase[] = [sdpo, napo("fixed"), napo("dynamic")];

/** The S-DPO inputs alone (confidences dropped), to run S-DPO on a NAPO fixture. */
export function withoutConfidences<T extends FloatArray>(inputs: NapoLossInputs<T>): NapoLossInputs<T> {
  const { chosenConfidence: _c, rejectedConfidence: _r, ...rest } = inputs;
  return rest;
}
