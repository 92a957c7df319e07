/**
 * Item tokens: one added token per item title (" " + title, as titles follow a space or ", " in prompts and
 * responses), on top of a tokenizer's own vocabulary. A title in a prompt or a response then encodes as one id,
 * so naming a listed candidate is copying one token. That is what lets a small decoder trained from scratch
 * learn to answer with a title from the list (bench/recipe/copy-levers-2026-11-25.md); a pretrained LM copies
 * multi-token titles already and does not need them.
 *
 * Matching (src/data/added_tokens.ts): leftmost-longest, so "Hope Sandoval" wins over "Hope" and "Queen Latifah"
 * over "Queen". Not whole-word: the library's whole-word rule looks at the character before the match's space,
 * and would leave a title right after a word of the template ("...from these bands Boris") in byte-level pieces.
 * The cost is a word that starts with a title and is not one ("Hopeless" without an item of its own) splitting
 * after the title. Decoding gives the text back exactly.
 */
import { appendAddedTokens } from "./added_tokens";

/** `tokenizerJson` (a tokenizer.json) with one added token per distinct non-empty title, ids after the last id. */
export function addItemTokens(tokenizerJson: string, titles: readonly string[], source = "<tokenizer.json>"): string {
  return appendAddedTokens(tokenizerJson, titles.map((title) => " " + title.trim()), source);
}
