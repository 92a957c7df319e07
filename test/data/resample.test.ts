/**
 * ResampledDataset on the shipped LastFM training file: every epoch's candidate list holds the target exactly
 * once among distinct items outside the history, the prompt is the template rendered from them and tokenized as
 * the converter does, draws depend only on (seed, epoch, example) (so batch size, shuffling and resume's
 * skipped batches do not change them), and sub-sequence examples predict each history item from its prefix.
 */
import * as path from "path";
import type { PreferenceBatch } from "../../src/data/batch";
import { PreferenceDataset } from "../../src/data/dataset";
import { ResampledDataset } from "../../src/data/resample";
import { Tokenizer } from "../../src/data/tokenizer";
import { rejectionOf } from "../helpers";
import { collect } from "./fixtures";

const dir = path.join(__dirname, "..", "..", "datasets", "lastfm");
const trainFile = path.join(dir, "train.arrow");
const tokenizer = Tokenizer.fromFile(path.join(dir, "tokenizer.json"));

let plain: ResampledDataset;
let withPrefixes: ResampledDataset;
let items: string[];
let histories: string[][];
let targets: number[];

beforeAll(async () => {
  plain = await ResampledDataset.open(trainFile, tokenizer);
  withPrefixes = await ResampledDataset.open(trainFile, tokenizer, { subsequences: true });
  const file = PreferenceDataset.fromArrow(trainFile);
  items = (await file.metadata()).items!;
  histories = [];
  targets = [];
  for await (const b of file.batches({ batchSize: 500 })) {
    histories.push(...b.text.history!);
    targets.push(...b.chosenItem);
  }
});

const lists = (packed: PreferenceBatch["prompt"]): number[][] =>
  Array.from({ length: packed.offsets.length - 1 }, (_, i) => Array.from(packed.values.subarray(packed.offsets[i], packed.offsets[i + 1])));

describe("ResampledDataset", () => {
  test("each example: the target once among 20 distinct candidates outside the history, the prompt rendered from them", async () => {
    const [batch] = await collect(plain.batches({ batchSize: 12, negatives: 3, shuffle: true, seed: 5, epoch: 2 }));
    const chosenLists = lists(batch.chosen);
    const candidateLists = lists(batch.candidates);
    const promptLists = lists(batch.prompt);
    const rejectedLists = lists(batch.rejected);
    const expectedPrompts = await tokenizer.encodeBatch(batch.text.prompt, { addSpecialTokens: true });
    for (let b = 0; b < batch.size; b++) {
      const row = batch.rows[b];
      const cands = Array.from(batch.candidateItems.subarray(batch.candidateOffsets[b], batch.candidateOffsets[b + 1]));
      expect(cands).toHaveLength(20);
      expect(new Set(cands).size).toBe(20);
      expect(cands.filter((c) => c === targets[row])).toHaveLength(1);
      expect(batch.chosenItem[b]).toBe(targets[row]);
      const history = histories[row];
      for (const c of cands) if (c !== targets[row]) expect(history).not.toContain(items[c]);
      // Text: the template's two slots filled with this history and these candidates, in order.
      expect(batch.text.prompt[b]).toContain(history.join(", "));
      expect(batch.text.prompt[b]).toContain(cands.map((c) => items[c]).join(", "));
      expect(batch.text.candidates[b]).toEqual(cands.map((c) => items[c]));
      expect(batch.text.chosen[b]).toBe(items[targets[row]]);
      // Tokens: the prompt as the converter tokenizes it; responses " title" + EOS.
      expect(promptLists[b]).toEqual(Array.from(expectedPrompts[b]));
      const title = async (item: number) => Array.from((await tokenizer.encodeBatch([" " + items[item]], { appendEos: true }))[0]);
      expect(chosenLists[b]).toEqual(await title(targets[row]));
      for (let j = 0; j < 20; j++) expect(candidateLists[batch.candidateOffsets[b] + j]).toEqual(await title(cands[j]));
      // Negatives: K other candidates of the list, with their tokens.
      for (let k = 0; k < 3; k++) {
        const item = batch.rejectedItems[b * 3 + k];
        expect(cands).toContain(item);
        expect(item).not.toBe(targets[row]);
        expect(rejectedLists[b * 3 + k]).toEqual(await title(item));
      }
      // History first tokens (sft's historyUnlikelihood): each history title's first token once, none a candidate's.
      const listedFirst = new Set(cands.map((_, j) => candidateLists[batch.candidateOffsets[b] + j][0]));
      const historyFirst = new Set<number>();
      for (const h of history) {
        const first = (await title(items.indexOf(h)))[0];
        if (!listedFirst.has(first)) historyFirst.add(first);
      }
      expect(lists(batch.historyFirstTokens!)[b]).toEqual([...historyFirst]);
    }
  });

  test("draws depend on (seed, epoch, example) only: the same for any batch size and after skipped batches", async () => {
    const key = (b: PreferenceBatch) =>
      Array.from({ length: b.size }, (_, i) => `${b.rows[i]}:${b.text.prompt[i]}:${b.candidateItems.subarray(i * 20, i * 20 + 20).join(",")}`);
    const request = { negatives: 3, shuffle: true, seed: 9, epoch: 1 };
    const first = (await collect(plain.batches({ ...request, batchSize: 8 }))).slice(0, 6).flatMap(key);
    const again = (await collect((await ResampledDataset.open(trainFile, tokenizer)).batches({ ...request, batchSize: 8 }))).slice(0, 6).flatMap(key);
    expect(again).toEqual(first);
    const bigger = (await collect(plain.batches({ ...request, batchSize: 16 }))).slice(0, 3).flatMap(key);
    expect(bigger).toEqual(first);
    const resumed = (await collect(plain.batches({ ...request, batchSize: 8, skipBatches: 3 }))).slice(0, 3).flatMap(key);
    expect(resumed).toEqual(first.slice(24));
    const nextEpoch = (await collect(plain.batches({ ...request, batchSize: 8, epoch: 2 }))).slice(0, 6).flatMap(key);
    expect(nextEpoch).not.toEqual(first);
    const otherSeed = (await collect(plain.batches({ ...request, batchSize: 8, seed: 10 }))).slice(0, 6).flatMap(key);
    expect(otherSeed).not.toEqual(first);
  });

  test("the target's position is spread over the list", () => {
    const counts = new Array(20).fill(0);
    for (let e = 0; e < 2000; e++) counts[plain.drawCandidates(e, 3, 0).targetIndex]++;
    // 100 expected per position; a position below 60 or above 140 would be a 4-sigma event.
    for (const c of counts) {
      expect(c).toBeGreaterThan(60);
      expect(c).toBeLessThan(140);
    }
  });

  test("sub-sequence examples: every history prefix of at least the shortest history predicts its next item", async () => {
    const shortest = Math.min(...histories.map((h) => h.length));
    const expected = histories.reduce((n, h) => n + 1 + (h.length - shortest), 0);
    expect(await plain.countRows()).toBe(histories.length);
    expect(await withPrefixes.countRows()).toBe(expected);
    const targetsByRow = new Map<number, string[]>();
    for await (const batch of withPrefixes.batches({ batchSize: 4096, negatives: 1, shuffle: false, seed: 0, epoch: 0 })) {
      for (let b = 0; b < batch.size; b++) {
        const row = batch.rows[b];
        const history = histories[row];
        const target = batch.text.chosen[b];
        (targetsByRow.get(row) ?? targetsByRow.set(row, []).get(row)!).push(target);
        // A history item is predicted from the prefix before it (unambiguous where it occurs once).
        const n = history.indexOf(target);
        if (n >= 0 && history.lastIndexOf(target) === n) expect(batch.text.prompt[b]).toContain(history.slice(0, n).join(", "));
        else expect(target).toBe(items[targets[row]]);
      }
    }
    expect(targetsByRow.size).toBe(histories.length);
    for (const [row, seen] of targetsByRow) {
      expect([...seen].sort()).toEqual([...histories[row].slice(shortest), items[targets[row]]].sort());
    }
  });

  test("copy rows: the asked share of extra examples, a random history and a target outside it, once in the list; fixed by their seed", async () => {
    const withCopies = await ResampledDataset.open(trainFile, tokenizer, { copyRows: 0.2 });
    const fileRows = histories.length;
    expect(await withCopies.countRows()).toBe(fileRows + Math.round((fileRows * 0.2) / 0.8));
    const copies: { prompt: string; chosen: string; row: number }[] = [];
    const historyLengths = new Set<number>();
    const shortest = Math.min(...histories.map((h) => h.length));
    for await (const batch of withCopies.batches({ batchSize: 4096, negatives: 3, shuffle: false, seed: 5, epoch: 1 })) {
      for (let b = 0; b < batch.size; b++) {
        if (batch.rows[b] < fileRows) continue;
        const candidates = batch.text.candidates[b];
        const chosen = batch.text.chosen[b];
        expect(candidates.filter((c) => c === chosen)).toHaveLength(1);
        expect(new Set(candidates).size).toBe(20);
        // Titles in the prompt outside the list: the history (plus any title that is a word of the template).
        const historyItems = items.filter((t) => batch.text.prompt[b].includes(t) && !candidates.includes(t));
        historyLengths.add(historyItems.length);
        copies.push({ prompt: batch.text.prompt[b], chosen, row: batch.rows[b] });
      }
    }
    expect(copies).toHaveLength(Math.round((fileRows * 0.2) / 0.8));
    expect(new Set(copies.map((c) => c.row)).size).toBe(copies.length);
    // Targets spread over the catalogue rather than following the file's popularity.
    expect(new Set(copies.map((c) => c.chosen)).size).toBeGreaterThan(copies.length * 0.8);
    expect(Math.min(...historyLengths)).toBeGreaterThanOrEqual(shortest);
    // Same seed: same copy rows (their targets); another seed: others.
    const again = await ResampledDataset.open(trainFile, tokenizer, { copyRows: 0.2 });
    const other = await ResampledDataset.open(trainFile, tokenizer, { copyRows: 0.2, copyRowsSeed: 1 });
    const targetsOf = async (d: ResampledDataset) => {
      const out: string[] = [];
      for await (const batch of d.batches({ batchSize: 4096, negatives: 0, shuffle: false, seed: 5, epoch: 1 })) {
        for (let b = 0; b < batch.size; b++) if (batch.rows[b] >= fileRows) out.push(batch.text.chosen[b]);
      }
      return out;
    };
    expect(await targetsOf(again)).toEqual(copies.map((c) => c.chosen));
    expect(await targetsOf(other)).not.toEqual(copies.map((c) => c.chosen));
    for (const bad of [-0.1, 0.95, Number.NaN]) {
      await expect(rejectionOf(ResampledDataset.open(trainFile, tokenizer, { copyRows: bad }))).resolves.toMatchObject({
        message: expect.stringMatching(/copyRows must be a share in \[0, 0.9\]/),
      });
    }
  });

  test("skip rows: a share of the examples drop their last history item, which is then never a candidate; the same draw for (seed, epoch)", async () => {
    const skipping = await ResampledDataset.open(trainFile, tokenizer, { skipRows: 0.5 });
    const [batch] = await collect(skipping.batches({ batchSize: 400, negatives: 0, shuffle: false, seed: 9, epoch: 3 }));
    let skipped = 0;
    for (let b = 0; b < batch.size; b++) {
      const row = batch.rows[b];
      const history = histories[row];
      const cands = Array.from(batch.candidateItems.subarray(batch.candidateOffsets[b], batch.candidateOffsets[b + 1]));
      expect(cands.filter((c) => c === targets[row])).toHaveLength(1);
      expect(batch.chosenItem[b]).toBe(targets[row]);
      const last = history[history.length - 1];
      if (batch.text.prompt[b].includes(history.join(", "))) {
        // As stored: the whole history in the prompt.
        continue;
      }
      skipped++;
      expect(batch.text.prompt[b]).toContain(history.slice(0, -1).join(", "));
      expect(cands.map((c) => items[c])).not.toContain(last);
      for (const c of cands) if (c !== targets[row]) expect(history).not.toContain(items[c]);
    }
    // Half of 400 rows, give or take 4 standard deviations (10 rows).
    expect(Math.abs(skipped - 200)).toBeLessThan(40);
    const [again] = await collect(skipping.batches({ batchSize: 100, negatives: 0, shuffle: false, seed: 9, epoch: 3, skipBatches: 0 }));
    expect(again.text.prompt).toEqual(batch.text.prompt.slice(0, 100));
    const [nextEpoch] = await collect(skipping.batches({ batchSize: 400, negatives: 0, shuffle: false, seed: 9, epoch: 4 }));
    expect(nextEpoch.text.prompt).not.toEqual(batch.text.prompt);
    // Off: the stored examples exactly.
    const [off] = await collect(plain.batches({ batchSize: 50, negatives: 0, shuffle: false, seed: 9, epoch: 3 }));
    for (let b = 0; b < off.size; b++) expect(off.text.prompt[b]).toContain(histories[off.rows[b]].join(", "));
    for (const bad of [-0.1, 0.95, Number.NaN]) {
      await expect(rejectionOf(ResampledDataset.open(trainFile, tokenizer, { skipRows: bad }))).resolves.toMatchObject({
        message: expect.stringMatching(/skipRows must be a share in \[0, 0.9\]/),
      });
    }
  });

  test("bad requests and options are refused with the reason", async () => {
    await expect(rejectionOf(collect(plain.batches({ batchSize: 4, negatives: 20, shuffle: false, seed: 0, epoch: 0 })))).resolves.toMatchObject({
      message: expect.stringMatching(/negatives must be an integer in \[0, 19\]/),
    });
    await expect(rejectionOf(collect(plain.batches({ batchSize: 0, negatives: 1, shuffle: false, seed: 0, epoch: 0 })))).resolves.toMatchObject({
      message: expect.stringMatching(/batchSize must be a positive integer/),
    });
    await expect(rejectionOf(ResampledDataset.open(trainFile, tokenizer, { numCandidates: 1 }))).resolves.toMatchObject({
      message: expect.stringMatching(/numCandidates must be an integer in \[2, 4606\]/),
    });
  });
});
