/**
 * Dropped list separators: a tokenizer whose normalizer deletes "," outside added tokens. With item tokens (one
 * per title, src/data/item_tokens.ts) the titles of a prompt's lists delimit themselves, so the ", " between two
 * of them (fillTemplate's separator) carries nothing, yet it is half a LastFM prompt's tokens once the template
 * phrases are one token each (src/data/template_tokens.ts): about 27 of 54. Dropped, a prompt is its template
 * phrases and its titles, and a training step of the demo's decoder takes about three quarters of the time
 * (bench/recipe/template-tokens-2026-12-07.md).
 *
 * Added tokens match the raw text before the normalizer runs, so a comma inside an item title or a template
 * phrase stays. Elsewhere commas are gone for good: decoding gives none back, and a title without an item token
 * runs into its neighbours' pieces. Only for data whose listed titles are item tokens.
 */
import { parseTokenizerJson } from "./added_tokens";

/** `tokenizerJson` with "," deleted by its normalizer (after any normalizer it has). */
export function dropListSeparators(tokenizerJson: string, source = "<tokenizer.json>"): string {
  const parsed = parseTokenizerJson<{ normalizer?: unknown }>(tokenizerJson, source);
  const drop = { type: "Replace", pattern: { String: "," }, content: "" };
  parsed.normalizer = parsed.normalizer ? { type: "Sequence", normalizers: [parsed.normalizer, drop] } : drop;
  return JSON.stringify(parsed);
}
