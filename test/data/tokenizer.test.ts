import { trainByteLevelBpe } from "../../src/data/train_tokenizer";
import { Tokenizer } from "../../src/data/tokenizer";

const corpus = [
  "This person has listened to Boris, Fever Ray, Fennesz. Answer: Iggy Pop",
  "This person has listened to Joy Division, Kaizers Orchestra, Kent. Answer: The Futureheads",
  "After listening to music from Coldplay, Keane, The Killers, which band? Answer: µ-Ziq",
];

describe("byte-level BPE tokenizer", () => {
  const json = trainByteLevelBpe(corpus, { vocabSize: 300 });
  const tokenizer = Tokenizer.fromString(json);

  it("has exactly the asked vocabulary with EOS and pad as special tokens at the end", () => {
    expect(tokenizer.vocabSize).toBe(300);
    expect(tokenizer.eosToken).toBe("<|endoftext|>");
    expect(tokenizer.eosId).toBe(298);
    expect(tokenizer.padId).toBe(299);
    expect(tokenizer.identity.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("round-trips text it has never seen, and learned merges shorten seen text", async () => {
    for (const text of ["Sigur Rós — 東京 🎵", " Iggy Pop", corpus[0]]) {
      const ids = await tokenizer.encode(text);
      for (const id of ids) expect(id).toBeLessThan(298);
      expect(await tokenizer.decode(ids)).toBe(text);
    }
    const seen = await tokenizer.encode(corpus[1]);
    expect(seen.length).toBeLessThan(Buffer.byteLength(corpus[1]));
  });

  it("appends EOS when asked and decodes it as a special token", async () => {
    const ids = await tokenizer.encode(" Kent", { appendEos: true });
    expect(ids[ids.length - 1]).toBe(tokenizer.eosId);
    expect(await tokenizer.decode(ids, { skipSpecialTokens: false })).toBe(" Kent<|endoftext|>");
  });

  it("is deterministic and refuses a vocabulary smaller than the byte alphabet", () => {
    expect(trainByteLevelBpe(corpus, { vocabSize: 300 })).toBe(json);
    expect(() => trainByteLevelBpe(corpus, { vocabSize: 100 })).toThrow(/vocabSize must be an integer >= 258/);
  });
});
