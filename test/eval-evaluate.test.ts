/**
 * evaluate() over batches with a stand-in model whose scores and answers are given per prompt, so the
 * packing (offsets that do not start at 0, responses mapped to their prompts) and the counting over all
 * rows are checked without the native decoder.
 */
import type { PackedTokens, PreferenceBatch } from "../src/data/batch";
import { evaluableOf, evaluate, type EvaluableModel } from "../src/eval/evaluate";
import { itemPopularity, popularityBias } from "../src/eval/popularity-bias";
import type { PackedResponsesInput } from "../src/native";
import { rejectionOf } from "./helpers";

const encode = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const decode = (ids: ArrayLike<number>): string => String.fromCharCode(...Array.from(ids));

/** Packs lists with `lead` junk values and a first offset > 0, like a view into an Arrow buffer. */
function pack(lists: number[][], lead = 3): PackedTokens {
  const values = [...Array(lead).fill(-7), ...lists.flat()];
  const offsets = [lead];
  for (const l of lists) offsets.push(offsets[offsets.length - 1] + l.length);
  return { values: Int32Array.from(values), offsets: Int32Array.from(offsets) };
}

interface Row {
  prompt: string;
  titles: string[];
  target: number;
  /** Score of each title given this prompt. */
  scores: number[];
  /** What greedy generation says. */
  answer: string;
  /** The title greedy decoding restricted to the candidates spells (its tokens and EOS get log-prob -0.5, others -3). */
  constrainedAnswer?: string;
}

const EOS = "\0";

/** Candidate token lists are the titles' char codes, followed by EOS (0) when `eos`, as the data files store them. */
function batchOf(rows: Row[], firstRow = 0, eos = false): PreferenceBatch {
  const itemId = (r: number, j: number): number => 100 * (firstRow + r) + j;
  const candidateOffsets = [0];
  for (const row of rows) candidateOffsets.push(candidateOffsets[candidateOffsets.length - 1] + row.titles.length);
  return {
    size: rows.length,
    rows: Int32Array.from(rows.map((_, r) => firstRow + r)),
    prompt: pack(rows.map((r) => encode(r.prompt))),
    chosen: pack(rows.map((r) => encode(r.titles[r.target]))),
    negatives: 0,
    rejected: pack([]),
    chosenItem: Int32Array.from(rows.map((row, r) => itemId(r, row.target))),
    rejectedItems: new Int32Array(0),
    candidates: pack(rows.flatMap((r) => r.titles.map((t) => encode(eos ? t + EOS : t))), 5),
    candidateOffsets: Int32Array.from(candidateOffsets),
    candidateItems: Int32Array.from(rows.flatMap((row, r) => row.titles.map((_, j) => itemId(r, j)))),
    text: { prompt: rows.map((r) => r.prompt), chosen: rows.map((r) => r.titles[r.target]), candidates: rows.map((r) => r.titles) },
  };
}

function standInModel(rows: Row[]): EvaluableModel & { calls: { score: number; generate: number } } {
  const byPrompt = new Map(rows.map((r) => [r.prompt, r]));
  const calls = { score: 0, generate: 0 };
  return {
    calls,
    async score(input: PackedResponsesInput, options?: { tokenLogps?: boolean }) {
      calls.score++;
      expect(input.promptOffsets[0]).toBe(0);
      expect(input.responseOffsets[0]).toBe(0);
      const logps = new Float64Array(input.responsePrompt.length);
      const tokenLogps = new Float64Array(input.responseIds.length);
      for (let i = 0; i < logps.length; i++) {
        const p = input.responsePrompt[i];
        const prompt = decode(input.promptIds.subarray(input.promptOffsets[p], input.promptOffsets[p + 1]));
        const response = decode(input.responseIds.subarray(input.responseOffsets[i], input.responseOffsets[i + 1]));
        const row = byPrompt.get(prompt)!;
        logps[i] = row.scores[row.titles.indexOf(response.replace(EOS, ""))];
        // log p(token k | prompt, tokens before k) depends only on the prefix, like a real model's.
        const spelled = (row.constrainedAnswer ?? "") + EOS;
        for (let k = 0; k < response.length; k++) {
          tokenLogps[input.responseOffsets[i] + k] = spelled.startsWith(response.slice(0, k + 1)) ? -0.5 : -3;
        }
      }
      return options?.tokenLogps ? { logps, tokenLogps } : { logps };
    },
    async generate(promptIds, promptOffsets, options) {
      calls.generate++;
      expect(promptOffsets[0]).toBe(0);
      expect(options.maxNewTokens).toBe(20);
      const answers = Array.from({ length: promptOffsets.length - 1 }, (_, p) =>
        encode(byPrompt.get(decode(promptIds.subarray(promptOffsets[p], promptOffsets[p + 1])))!.answer)
      );
      const offsets = [0];
      for (const a of answers) offsets.push(offsets[offsets.length - 1] + a.length);
      return { ids: Int32Array.from(answers.flat()), offsets: Int32Array.from(offsets) };
    },
  };
}

const titles = ["Abba", "Blur", "Cher", "Dido", "Enya", "Faith"];
const rows: Row[] = [
  // ranked 1st; answer names the target: valid hit
  { prompt: "p0", titles, target: 0, scores: [-1, -2, -3, -4, -5, -6], answer: "Abba" },
  // ranked 2nd; answer names another candidate: valid, no hit
  { prompt: "p1", titles, target: 1, scores: [-1, -2, -3, -4, -5, -6], answer: "Cher!" },
  // tie with 3 others: pessimistic rank 4; answer names two: invalid
  { prompt: "p2", titles, target: 2, scores: [-1, -1, -1, -1, -5, -6], answer: "Dido and Enya" },
  // ranked last; answer names nothing: invalid
  { prompt: "p3", titles, target: 3, scores: [-1, -2, -3, -9, -5, -6], answer: "no idea" },
  // ranked 3rd; valid hit
  { prompt: "p4", titles: ["Queen", "Queen Latifah", "Muse"], target: 1, scores: [-1, -2, -3], answer: "Queen Latifah" },
];

test("HR@1 and ValidRatio over all rows, ranking metrics from scores, across batches", async () => {
  const model = standInModel(rows);
  const batches = [batchOf(rows.slice(0, 2), 0), batchOf(rows.slice(2, 5), 2)];
  const progress: number[] = [];
  const result = await evaluate(model, batches, { tokenizer: { decode, eosTokenId: 0 }, onProgress: (n) => progress.push(n) });
  expect(result.rows).toBe(5);
  expect(result.hr1).toBeCloseTo(2 / 5, 12);
  expect(result.validRatio).toBeCloseTo(3 / 5, 12);
  // ranks: 1, 2, 4, 6, 2
  expect(result.rankHr1).toBeCloseTo(1 / 5, 12);
  expect(result.hr3).toBeCloseTo(3 / 5, 12);
  expect(result.hr5).toBeCloseTo(4 / 5, 12);
  expect(result.ndcg3).toBeCloseTo((1 + 2 / Math.log2(3)) / 5, 12);
  expect(result.ndcg5).toBeCloseTo((1 + 2 / Math.log2(3) + 1 / Math.log2(5)) / 5, 12);
  expect(progress).toEqual([2, 5]);
  expect(model.calls).toEqual({ score: 2, generate: 2 });
});

test("generation or ranking can be turned off; data may be a source with batches()", async () => {
  const model = standInModel(rows);
  const source = { countRows: async () => 5, batches: (o: { batchSize: number }) => [batchOf(rows.slice(0, o.batchSize), 0), batchOf(rows.slice(o.batchSize), o.batchSize)] };
  const rankingOnly = await evaluate(model, source, { generation: false, batchSize: 3 });
  expect(Number.isNaN(rankingOnly.hr1)).toBe(true);
  expect(rankingOnly.hr3).toBeCloseTo(3 / 5, 12);
  expect(model.calls.generate).toBe(0);
  const generationOnly = await evaluate(model, source, { ranking: false, tokenizer: { decode, eosTokenId: 0 }, maxRows: 4 });
  expect(generationOnly.rows).toBe(4);
  expect(generationOnly.hr1).toBeCloseTo(1 / 4, 12);
  expect(Number.isNaN(generationOnly.ndcg3)).toBe(true);
});

test("bad options and a target missing from its candidates are clear errors", async () => {
  const model = standInModel(rows);
  expect((await rejectionOf(evaluate(model, [batchOf(rows)], {}))).message).toMatch(/needs options.tokenizer/);
  expect((await rejectionOf(evaluate(model, [batchOf(rows)], { batchSize: 0 }))).message).toMatch(/batchSize/);
  expect((await rejectionOf(evaluate(model, [], { generation: false, ranking: false }))).message).toMatch(/nothing to measure/);
  const before = model.calls.score;
  expect((await rejectionOf(evaluate(model, [batchOf(rows)], { generation: false, bootstrap: { resamples: -1 } }))).message).toMatch(
    /evaluate: bootstrap: resamples must be a positive integer/
  );
  expect(model.calls.score).toBe(before); // refused before scoring anything
  const broken = batchOf(rows.slice(0, 1), 41);
  broken.chosenItem[0] = 999;
  expect((await rejectionOf(evaluate(model, [broken], { generation: false }))).message).toMatch(/row 41: the chosen item 999 is not among its 6 candidates/);
});

test("a Model wrapper is evaluated through its NativeModel (.native), whose signatures evaluate uses", async () => {
  const inner = standInModel(rows);
  const wrapper = { native: inner, generate: () => Promise.reject(new Error("the wrapper's generate must not be called")), score: () => Promise.reject(new Error("nor its score")) };
  expect(evaluableOf(wrapper)).toBe(inner);
  expect(evaluableOf(inner)).toBe(inner);
  expect(() => evaluableOf({})).toThrow(/expected a model with score\(\) and generate\(\)/);
  const result = await evaluate(wrapper as never, [batchOf(rows)], { tokenizer: { decode, eosTokenId: 0 } });
  expect(result.hr1).toBeCloseTo(2 / 5, 12);
});

test("per-row outcomes behind every metric, with bootstrap intervals around them", async () => {
  const model = standInModel(rows);
  const result = await evaluate(model, [batchOf(rows.slice(0, 2), 10), batchOf(rows.slice(2, 5), 12)], { tokenizer: { decode, eosTokenId: 0 } });
  expect(result.perRow).toEqual({
    rowIds: [10, 11, 12, 13, 14],
    generationHit: [1, 0, 0, 0, 1],
    generationValid: [1, 1, 0, 0, 1],
    rank: [1, 2, 4, 6, 2],
    // Item ids are 100 * row + candidate index (batchOf).
    targetItem: [1000, 1101, 1202, 1303, 1401],
    // Row 12 ties candidates 0..3 at the top, its target among them: the first other candidate is the top-1.
    rankTopItem: [1000, 1100, 1200, 1300, 1400],
    // Abba; Cher; two named (invalid); none named (invalid); Queen Latifah.
    generationItem: [1000, 1102, -1, -1, 1401],
  });
  for (const metric of ["hr1", "validRatio", "hr3", "hr5", "ndcg3", "ndcg5", "rankHr1"] as const) {
    const [lo, hi] = result.intervals[metric];
    expect(lo).toBeLessThanOrEqual(result[metric]);
    expect(hi).toBeGreaterThanOrEqual(result[metric]);
    expect(hi - lo).toBeGreaterThan(0); // 5 rows that disagree: a wide interval
  }
  expect(result.intervals.constrainedHr1).toEqual([NaN, NaN]);
  expect(Number.isNaN(result.constrainedHr1)).toBe(true);

  const again = await evaluate(model, [batchOf(rows.slice(0, 2), 10), batchOf(rows.slice(2, 5), 12)], { tokenizer: { decode, eosTokenId: 0 } });
  expect(again.intervals).toEqual(result.intervals);
  const unbootstrapped = await evaluate(model, [batchOf(rows)], { tokenizer: { decode, eosTokenId: 0 }, bootstrap: false });
  expect(unbootstrapped.hr1).toBe(result.hr1);
  expect(unbootstrapped.intervals.hr1).toEqual([NaN, NaN]);
});

test("constrained HR@1 from one scoring pass with per-token log-probs, beside the ranking", async () => {
  const constrainedRows: Row[] = rows.map((r, i) => ({ ...r, constrainedAnswer: ["Abba", "Cher", "Cher", "Dido", "Queen"][i] }));
  const model = standInModel(constrainedRows);
  const batches = [batchOf(constrainedRows.slice(0, 3), 0, true), batchOf(constrainedRows.slice(3), 3, true)];
  const result = await evaluate(model, batches, { generation: false, constrained: true });
  // Targets: Abba (hit), Blur (miss: Cher), Cher (hit), Dido (hit), Queen Latifah (miss: Queen then EOS).
  expect(result.perRow.constrainedHit).toEqual([1, 0, 1, 1, 0]);
  expect(result.constrainedHr1).toBeCloseTo(3 / 5, 12);
  expect(result.rankHr1).toBeCloseTo(1 / 5, 12);
  expect(model.calls.score).toBe(2); // ranking and constrained share the pass

  const latifah = constrainedRows.map((r, i) => (i === 4 ? { ...r, constrainedAnswer: "Queen Latifah" } : r));
  const onlyConstrained = await evaluate(standInModel(latifah), [batchOf(latifah, 0, true)], { generation: false, ranking: false, constrained: true });
  expect(onlyConstrained.perRow.constrainedHit).toEqual([1, 0, 1, 1, 1]);
  expect(Number.isNaN(onlyConstrained.hr3)).toBe(true);
  expect(onlyConstrained.perRow.rank).toBeUndefined();
});

test("constrained decoding names the row whose candidates it cannot decide between", async () => {
  // Without EOS, "Queen" is a strict prefix of "Queen Latifah" (row 4).
  const model = standInModel(rows);
  const error = await rejectionOf(evaluate(model, [batchOf(rows)], { generation: false, constrained: true }));
  expect(error.message).toMatch(/row 4: .*candidate 0's tokens are a strict prefix of candidate 1's/);
  const noTokenLogps = { ...model, score: async (input: PackedResponsesInput) => ({ logps: new Float64Array(input.responsePrompt.length) }) };
  expect((await rejectionOf(evaluate(noTokenLogps, [batchOf(rows, 0, true)], { generation: false, constrained: true }))).message).toMatch(
    /needs per-token log-probs/
  );
});

test("popularity bias of the ranking's and the generation's top-1, counted on the given training targets", async () => {
  const model = standInModel(rows);
  const batches = () => [batchOf(rows.slice(0, 2), 10), batchOf(rows.slice(2, 5), 12)];
  const tokenizer = { decode, eosTokenId: 0 };
  const without = await evaluate(model, batches(), { tokenizer });
  expect(without.popularityBias).toEqual({ measured: false, reason: expect.stringMatching(/no training data given \(popularityFrom\)/) });

  // Items 1000 (row 10's target, 3 training rows) and 1100 (2 rows) are the head: the 2 (0.1% of 1500) most popular.
  const popularity = itemPopularity([1000, 1000, 1000, 1100, 1100, 1102, 1401], 1500, { headFraction: 0.001 });
  expect(popularity.headItems).toBe(2);
  const result = await evaluate(model, batches(), { tokenizer, popularityFrom: popularity, bootstrap: { seed: 3 } });
  expect(result.popularityBias).toEqual(popularityBias(result.perRow, popularity, { seed: 3 }));
  if (!result.popularityBias.measured) throw new Error("expected popularity bias");
  expect(result.popularityBias).toMatchObject({ headRows: 1, tailRows: 4 });
  expect(result.popularityBias.ranking).toMatchObject({ rows: 5, distinctItems: 5, hr1Head: 1, hr1Tail: 0 });
  expect(result.popularityBias.ranking!.headShare).toBeCloseTo(2 / 5, 12); // 1000, 1100
  expect(result.popularityBias.generation).toMatchObject({ rows: 3, distinctItems: 3, meanPopularity: (3 + 1 + 1) / 3 });

  // Data that names its items must have the popularity's item count.
  const source = { metadata: async () => ({ items: ["x", "y"] }), batches: () => batches() };
  expect((await rejectionOf(evaluate(model, source, { tokenizer, popularityFrom: popularity }))).message).toMatch(
    /the evaluation data has 2 items, the popularity \(given counts\) 1500: item ids would mean other items/
  );
});
