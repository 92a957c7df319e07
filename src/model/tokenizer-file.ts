/**
 * The one place checkpoints touch the `tokenizers` package: loading tokenizer.json beside the weights.
 * Kept small and separate so it can defer to src/data's tokenizer wrapper once that exists.
 */
import type { Tokenizer } from "tokenizers";

/** Tokenizer files Hugging Face keeps beside the weights; copied through a save unchanged. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"] as const;

export function loadTokenizerFile(file: string): Tokenizer {
  // Required lazily: the package loads a native binary, which loading weights alone never needs.
  const { Tokenizer: TokenizerClass } = require("tokenizers") as typeof import("tokenizers");
  try {
    return TokenizerClass.fromFile(file);
  } catch (err) {
    throw new Error(`${file}: cannot load the tokenizer (${(err as Error).message})`);
  }
}
