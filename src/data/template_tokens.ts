/**
 * Template tokens: one added token per constant phrase of the prompt templates (the text before, between and
 * after the [HistoryHere] and [CansHere] slots). Every prompt of a templated file repeats one template's
 * phrases, about 35 byte-level tokens a prompt on LastFM that carry no information beyond which template it is.
 * As one id each, a LastFM prompt shrinks from about 82 tokens to about 53, and a training step of the demo's
 * decoder takes about two thirds of the time (bench/recipe/template-tokens-2026-12-07.md).
 *
 * A phrase keeps its leading text and loses its trailing spaces: a slot's first title is an item token
 * " " + title that takes the space itself. Prompts of other templates fall back to the byte-level pieces.
 */
import { appendAddedTokens } from "./added_tokens";

const SLOTS = /\[HistoryHere\]|\[CansHere\]/;

/** The distinct constant phrases of `templates`, in order of first appearance; phrases without a letter or
 *  digit (a bare ", " between slots) are left to the base tokenizer, which separators share. */
export function templatePhrases(templates: readonly string[]): string[] {
  const phrases = new Set<string>();
  for (const template of templates) {
    for (const part of template.split(SLOTS)) {
      const phrase = part.replace(/\s+$/, "");
      if (/[\p{L}\p{N}]/u.test(phrase)) phrases.add(phrase);
    }
  }
  return [...phrases];
}

/** `tokenizerJson` with one added token per phrase of `templates`, ids after the last id. */
export function addTemplateTokens(tokenizerJson: string, templates: readonly string[], source = "<tokenizer.json>"): string {
  return appendAddedTokens(tokenizerJson, templatePhrases(templates), source);
}
