/**
 * Added tokens appended to a tokenizer.json: the mechanism behind item tokens (one id per title) and template
 * tokens (one id per constant phrase of a prompt template). Hugging Face matches added tokens leftmost-longest
 * before the byte-level pre-tokenizer, so an added string encodes as its one id wherever it occurs.
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

/** A tokenizer.json's object; text that is not JSON is an error naming `source`. */
export function parseTokenizerJson<T>(tokenizerJson: string, source: string): T {
  try {
    return JSON.parse(tokenizerJson) as T;
  } catch (err) {
    throw new Error(`${source}: not JSON (${(err as Error).message})`);
  }
}

/**
 * `tokenizerJson` with one added token per distinct content not added yet, ids after the last id. Not whole-word
 * (`single_word` would look at the character before a content's leading space; see src/data/item_tokens.ts) and
 * matched on the raw text, before any normalizer.
 */
export function appendAddedTokens(tokenizerJson: string, contents: readonly string[], source = "<tokenizer.json>"): string {
  const parsed = parseTokenizerJson<{ added_tokens?: AddedToken[]; model?: { vocab?: Record<string, number> } }>(tokenizerJson, source);
  const added = Array.isArray(parsed.added_tokens) ? parsed.added_tokens : [];
  const vocab = parsed.model?.vocab && typeof parsed.model.vocab === "object" ? parsed.model.vocab : {};
  // reduce, not Math.max(...ids): a large vocabulary would overflow the argument list.
  let next = [...Object.values(vocab), ...added.map((t) => t.id)].reduce((m, id) => (Number.isInteger(id) && id > m ? id : m), -1) + 1;
  // A content that is a token of the model already keeps that id: the library would map it there anyway.
  const present = new Set([...added.map((t) => t.content), ...Object.keys(vocab)]);
  for (const content of contents) {
    if (content.trim() === "" || present.has(content)) continue;
    present.add(content);
    added.push({ id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
  }
  parsed.added_tokens = added;
  const json = JSON.stringify(parsed);
  Tokenizer.fromString(json, source); // refuses a file the tokenizers library cannot load
  return json;
}
