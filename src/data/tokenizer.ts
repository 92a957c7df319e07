/**
 * Tokenizer: a thin wrapper over Hugging Face's `tokenizers` (tokenizer.json) that knows its EOS and pad
 * ids and its identity (hash + vocab size), so data files can name the tokenizer that made them.
 */
import { createHash } from "crypto";
import { readRegularFileSync } from "../regular-file";
import { Tokenizer as HfTokenizer } from "tokenizers";
import type { TokenizerIdentity } from "./schema";

/** Special tokens we look for, in order of preference. */
const EOS_CANDIDATES = ["<|endoftext|>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>", "</s>", "<eos>"];
const PAD_CANDIDATES = ["<|pad|>", "<pad>", "[PAD]", "<|endoftext|>", "</s>"];

export interface TokenizerOptions {
  /** Override the EOS token (default: the first of <|endoftext|>, <|im_end|>, </s>, ... the vocabulary has). */
  eosToken?: string;
  /** Override the pad token (default: <|pad|>, <pad>, ... or the EOS token). */
  padToken?: string;
}

export class Tokenizer {
  readonly eosId: number;
  readonly padId: number;
  readonly eosToken: string;
  readonly padToken: string;
  readonly vocabSize: number;
  /** sha256 of the tokenizer.json bytes. */
  readonly hash: string;

  private constructor(
    private readonly hf: HfTokenizer,
    json: string,
    readonly source: string,
    options: TokenizerOptions,
  ) {
    this.hash = createHash("sha256").update(json).digest("hex");
    this.vocabSize = hf.getVocabSize(true);
    const find = (names: string[], what: string): [string, number] => {
      for (const name of names) {
        const id = hf.tokenToId(name);
        if (id !== null && id !== undefined) return [name, id];
      }
      throw new Error(`${source}: no ${what} token found (looked for ${names.join(", ")}); pass ${what}Token`);
    };
    [this.eosToken, this.eosId] = find(options.eosToken ? [options.eosToken] : EOS_CANDIDATES, "eos");
    [this.padToken, this.padId] = find(options.padToken ? [options.padToken] : [...PAD_CANDIDATES, this.eosToken], "pad");
  }

  static fromFile(path: string, options: TokenizerOptions = {}): Tokenizer {
    let json: string;
    try {
      json = readRegularFileSync(path);
    } catch (err) {
      throw new Error(`cannot read tokenizer ${path}: ${(err as Error).message}`);
    }
    return Tokenizer.fromString(json, path, options);
  }

  static fromString(json: string, source = "<tokenizer.json>", options: TokenizerOptions = {}): Tokenizer {
    let hf: HfTokenizer;
    try {
      hf = HfTokenizer.fromString(json);
    } catch (err) {
      throw new Error(`${source}: not a valid tokenizer.json (${(err as Error).message})`);
    }
    return new Tokenizer(hf, json, source, options);
  }

  get identity(): TokenizerIdentity {
    return {
      hash: this.hash,
      vocabSize: this.vocabSize,
      eosId: this.eosId,
      padId: this.padId,
      eosToken: this.eosToken,
      padToken: this.padToken,
    };
  }

  /** Token ids of `text`; `addSpecialTokens` runs the tokenizer's post-processor (e.g. a BOS), off by default. */
  async encode(text: string, options: { addSpecialTokens?: boolean; appendEos?: boolean } = {}): Promise<Int32Array> {
    const [ids] = await this.encodeBatch([text], options);
    return ids;
  }

  async encodeBatch(
    texts: string[],
    options: { addSpecialTokens?: boolean; appendEos?: boolean } = {},
  ): Promise<Int32Array[]> {
    if (texts.length === 0) return [];
    const encodings = await this.hf.encodeBatch(texts, { addSpecialTokens: options.addSpecialTokens ?? false });
    return encodings.map((e) => {
      const ids = e.getIds();
      const out = new Int32Array(ids.length + (options.appendEos ? 1 : 0));
      out.set(ids);
      if (options.appendEos) out[ids.length] = this.eosId;
      return out;
    });
  }

  async decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): Promise<string> {
    return this.hf.decode(Array.from(ids), options.skipSpecialTokens ?? true);
  }

  async decodeBatch(ids: ArrayLike<number>[], options: { skipSpecialTokens?: boolean } = {}): Promise<string[]> {
    return this.hf.decodeBatch(ids.map((x) => Array.from(x)), options.skipSpecialTokens ?? true);
  }

  tokenToId(token: string): number | null {
    return this.hf.tokenToId(token) ?? null;
  }

  idToToken(id: number): string | null {
    return this.hf.idToToken(id) ?? null;
  }
}
