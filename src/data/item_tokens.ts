/**
 * Item tokens: one added token per item title, on top of a tokenizer's own vocabulary. A title in a prompt or a
 * response then encodes as one id, so naming a listed candidate is copying one token. That is what lets a small
 * decoder trained from scratch learn to answer with a title from the list (bench/recipe/copy-levers-2026-11-25.md);
 * a pretrained LM copies multi-token titles already and does not need them.
 *
 * Matching (src/data/added_tokens.ts): leftmost-longest ("Hope Sandoval" over "Hope"), whole words only ("Hope"
 * not inside "Hopeless"), and the space before a title is part of its token (`lstrip`), so " Hope" after "from",
 * after ", " and as a response (" " + title) is the same one id. Decoding gives the title without that space.
 */
import { appendAddedTokens } from "./added_tokens";

/** `tokenizerJson` (a tokenizer.json) with one added token per distinct non-empty title, ids after the last id. */
export function addItemTokens(tokenizerJson: string, titles: readonly string[], source = "<tokenizer.json>"): string {
  return appendAddedTokens(tokenizerJson, titles.map((title) => title.trim()), { singleWord: true, lstrip: true }, source);
}
