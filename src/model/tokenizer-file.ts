/** Loading tokenizer.json beside the weights, through the data layer's tokenizer wrapper. */
import { Tokenizer } from "../data/tokenizer";

/** Tokenizer files Hugging Face keeps beside the weights; copied through a save unchanged. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"] as const;

export function loadTokenizerFile(file: string): Tokenizer {
  try {
    return Tokenizer.fromFile(file);
  } catch (err) {
    throw new Error(`${file}: cannot load the tokenizer (${(err as Error).message})`);
  }
}
