/** Greedy generation with a KV cache == an argmax loop over full forwards; constrained decoding. */
import type { NativeModel } from "../../src/native";
import { makeModel, packBatch, randomizeParameters, tinyConfig } from "./fixtures";
import { modelTestHooks } from "../../src/native/test-hooks";

const prompts = [[1, 2, 3], [4], [5, 6, 7, 8, 9, 10, 11], [12, 13]];
const promptIds = Int32Array.from(prompts.flat());
const promptOffsets = Int32Array.from([0, 3, 4, 11, 13]);

function unpack(out: { ids: Int32Array; offsets: Int32Array }): number[][] {
  const lists: number[][] = [];
  for (let i = 0; i + 1 < out.offsets.length; i++) lists.push(Array.from(out.ids.subarray(out.offsets[i], out.offsets[i + 1])));
  return lists;
}

/** The next token by brute force: score every vocabulary token as a one-token response. */
async function argmaxNext(model: NativeModel, context: number[], vocab: number, allowed?: Set<number>): Promise<number> {
  const candidates = Array.from({ length: vocab }, (_, t) => [t]);
  const { logps } = await modelTestHooks(model).score(packBatch([context], [candidates]), { plainKernels: true });
  let best = -1;
  for (let t = 0; t < vocab; t++) if ((!allowed || allowed.has(t)) && (best < 0 || logps[t] > logps[best])) best = t;
  return best;
}

describe("Model.generate", () => {
  test("batched KV-cache decoding == one-prompt full-forward plain path == brute-force argmax loop", async () => {
    for (const config of [tinyConfig(), tinyConfig({ model_type: "qwen3", qk_norm: true, head_dim: 8, tie_word_embeddings: true })]) {
      const model = makeModel(config, "float64", 2);
      randomizeParameters(model, 31, 0.5);
      const eos = 0;
      const options = { maxNewTokens: 6, eosTokenId: eos };
      const fast = unpack(await model.generate(promptIds, promptOffsets, options));
      const plain = unpack(await modelTestHooks(model).generate(promptIds, promptOffsets, { ...options, plainKernels: true }));
      expect(fast).toEqual(plain);
      for (let p = 0; p < prompts.length; p++) {
        const context = [...prompts[p]];
        const expected: number[] = [];
        for (let s = 0; s < 6; s++) {
          const next = await argmaxNext(model, context, config.vocab_size);
          expected.push(next);
          context.push(next);
          if (next === eos) break;
        }
        expect(fast[p]).toEqual(expected);
      }
      // Deterministic.
      expect(unpack(await model.generate(promptIds, promptOffsets, options))).toEqual(fast);
      model.dispose();
    }
  });

  test("stops a row at EOS (kept) while the others go on", async () => {
    const config = tinyConfig();
    const model = makeModel(config, "float64", 2);
    randomizeParameters(model, 31, 0.5);
    const free = unpack(await model.generate(promptIds, promptOffsets, { maxNewTokens: 5, eosTokenId: 0 }));
    // Make the first token of prompt 0 the EOS: that row ends after one token.
    const eos = free[0][0];
    const out = unpack(await model.generate(promptIds, promptOffsets, { maxNewTokens: 5, eosTokenId: eos }));
    expect(out[0]).toEqual([eos]);
    for (let p = 1; p < prompts.length; p++) {
      const cut = free[p].indexOf(eos);
      expect(out[p]).toEqual(cut >= 0 ? free[p].slice(0, cut + 1) : free[p]);
    }
    expect(unpack(await model.generate(promptIds, promptOffsets, { maxNewTokens: 0, eosTokenId: 0 }))).toEqual([[], [], [], []]);
    model.dispose();
  });

  test("constrained decoding produces one of each prompt's candidate lists, then EOS", async () => {
    const config = tinyConfig();
    const model = makeModel(config, "float64", 2);
    randomizeParameters(model, 32, 0.5);
    const eos = 36;
    // Per prompt: candidate lists sharing prefixes; prompt 1 has one list that already ends with EOS.
    const candidates = [
      [[3, 4, 5], [3, 4, 9, 10], [7]],
      [[8, 8, eos]],
      [[20, 21], [20, 22], [23, 24, 25, 26]],
      [[30], [30, 31]],
    ];
    const lists = candidates.flat();
    const allowed = {
      ids: Int32Array.from(lists.flat()),
      offsets: Int32Array.from(lists.reduce((o, l) => [...o, o[o.length - 1] + l.length], [0])),
      promptOffsets: Int32Array.from([0, 3, 4, 7, 9]),
    };
    const options = { maxNewTokens: 8, eosTokenId: eos, allowed };
    const out = unpack(await model.generate(promptIds, promptOffsets, options));
    expect(out).toEqual(unpack(await modelTestHooks(model).generate(promptIds, promptOffsets, { ...options, plainKernels: true })));
    out.forEach((tokens, p) => {
      expect(tokens[tokens.length - 1]).toBe(eos);
      const produced = tokens.slice(0, -1);
      const matches = candidates[p].some((c) => JSON.stringify(c.filter((t) => t !== eos)) === JSON.stringify(produced));
      expect(matches).toBe(true);
    });
    expect(out[1]).toEqual([8, 8, eos]);
    // Each step took the best allowed token (brute force over the vocabulary).
    for (let p = 0; p < prompts.length; p++) {
      const context = [...prompts[p]];
      let live = candidates[p];
      for (const token of out[p]) {
        const step = context.length - prompts[p].length;
        const allowedNow = new Set<number>();
        for (const c of live) {
          if (step < c.length) allowedNow.add(c[step]);
          else if (step === c.length) allowedNow.add(eos);
        }
        expect(token).toBe(await argmaxNext(model, context, config.vocab_size, allowedNow));
        live = live.filter((c) => c[step] === token);
        context.push(token);
      }
    }
    model.dispose();
  });
});
