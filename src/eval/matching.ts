/**
 * Which candidate titles a generated answer names, as in the S-DPO / LLaRA evaluation code: a title
 * counts when it appears as a substring of the decoded output (case-sensitive, like the paper's
 * `if cans_item in generate`).
 *
 * One deliberate difference: the paper counts every candidate that is a substring, so when one title is
 * a substring of another ("Queen" inside "Queen Latifah") an answer naming the longer one counts as two
 * matches and is declared invalid. Here an occurrence of a title that lies wholly inside an occurrence
 * of a longer matching title is not counted, so "Queen Latifah" names only "Queen Latifah", while an
 * answer that also says "Queen" elsewhere still names both (and is invalid). Titles are compared after
 * trimming surrounding whitespace; empty titles never match (they are a substring of everything);
 * duplicate titles in one candidate list count once.
 */

export interface GenerationJudgement {
  /** Distinct candidate titles the output names, in candidate order. */
  mentioned: string[];
  /** Exactly one candidate title is named. */
  valid: boolean;
  /** Valid and the one title named is the target's. */
  hit: boolean;
}

interface Span {
  start: number;
  end: number;
  title: string;
}

function occurrences(text: string, title: string): Span[] {
  const spans: Span[] = [];
  for (let at = text.indexOf(title); at >= 0; at = text.indexOf(title, at + 1)) {
    spans.push({ start: at, end: at + title.length, title });
  }
  return spans;
}

/** Distinct titles (trimmed, non-empty) named by `output`, in the order of `candidates`. */
export function mentionedCandidates(output: string, candidates: readonly string[]): string[] {
  const titles = [...new Set(candidates.map((t) => t.trim()).filter((t) => t.length > 0))];
  const spans = titles.flatMap((title) => occurrences(output, title));
  const inside = (a: Span, b: Span): boolean =>
    b.title.length > a.title.length && b.start <= a.start && a.end <= b.end;
  const named = new Set<string>();
  for (const span of spans) {
    if (!spans.some((other) => inside(span, other))) named.add(span.title);
  }
  return titles.filter((t) => named.has(t));
}

/** The paper's per-row verdict: valid = exactly one candidate named; hit = valid and it is the target. */
export function judgeGeneration(output: string, candidates: readonly string[], target: string): GenerationJudgement {
  const mentioned = mentionedCandidates(output, candidates);
  const valid = mentioned.length === 1;
  return { mentioned, valid, hit: valid && mentioned[0] === target.trim() };
}
