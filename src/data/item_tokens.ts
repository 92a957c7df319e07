/**
 * Item tokens: one added token per item title (" " + title, as titles follow a space or ", " in prompts and
 * responses), on top of a tokenizer's own vocabulary. A title in a prompt or a response then encodes as one id,
 * so naming a listed candidate is copying one token. That is what lets a small decoder trained from scratch
 * learn to answer with a title from the list (bench/recipe/copy-levers-2026-11-25.md); a pretrained LM copies
 * multi-token titles already and does not need them.
 *
 * Hugging Face's added-token matching does the rest: leftmost-longest ("Hope Sandoval" over "Hope"), whole words
 * only (`single_word`, so " Hope" does not match inside " Hopeless"), before the byte-level pre-tokenizer.
 */
import { Tokenizer } from "./tokenizer";

interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** `tokenizerJson` (a tokenizer.json) with one added token per distinct non-empty title, ids after the last id. */
export function addItemTokens(tokenizerJson: string, titles: readonly string[], source = "<tokenizer.json>"): string {
  let parsed: { added_tokens?: AddedToken[]; model?: { vocab?: Record<string, number> } };
  try {
    parsed = JSON.parse(tokenizerJson);
  } catch (err) {
    throw new Error(`${source}: not JSON (${(err as Error).message})`);
  }
  const added = Array.isArray(parsed.added_tokens) ? parsed.added_tokens : [];
  const vocab = parsed.model?.vocab && typeof parsed.model.vocab === "object" ? Object.values(parsed.model.vocab) : [];
  // reduce, not Math.max(...ids): a large vocabulary would overflow the argument list.
  let next = [...vocab, ...added.map((t) => t.id)].reduce((m, id) => (Number.isInteger(id) && id > m ? id : m), -1) + 1;
  const present = new Set(added.map((t) => t.content));
  for (const title of titles) {
    const content = " " + title.trim();
    if (content === " " || present.has(content)) continue;
    present.add(content);
    added.push({ id: next++, content, single_word: true, lstrip: false, rstrip: false, normalized: false, special: false });
  }
  parsed.added_tokens = added;
  const json = JSON.stringify(parsed);
  Tokenizer.fromString(json, source); // refuses a file the tokenizers library cannot load
  return json;
}
