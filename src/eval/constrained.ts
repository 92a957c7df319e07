/**
 * Greedy decoding restricted to a row's candidate titles, computed from per-token log-probabilities.
 *
 * The candidates' token lists (each ending in EOS, as the data files store them) form a trie. Greedy
 * decoding restricted to it starts at the root and, at a node with prefix P, takes the child token t with
 * the highest log p(t | prompt, P), until the path spells a whole list. That log-prob is the per-token
 * log-prob at position |P| of any candidate whose tokens start with P + t: such candidates share the prompt
 * and the prefix, so one scoring pass of all candidates (model.score with tokenLogps) holds every number the
 * walk needs. Restricting the argmax to the trie's children equals renormalising over them first.
 *
 * The walk keeps the set of candidates still consistent with the path instead of building trie nodes. Where
 * several candidates carry the same next token, the first in candidate order supplies its log-prob (the
 * others hold the same value up to float rounding, from different slots of the batched pass). Ties between
 * children go to the child whose first candidate comes first.
 */

export interface ConstrainedChoice {
  /** Index of the candidate whose token list the greedy path spells (the first, if several are identical). */
  candidate: number;
  /** Every candidate with exactly that token list (more than one when a title is listed twice). */
  matching: number[];
  /** Summed log-prob of the path (the chosen candidate's sequence log-prob). */
  logp: number;
}

/**
 * The candidate greedy decoding picks when it may only spell one of `candidates` (token lists);
 * `tokenLogps[j][i]` is log p(candidates[j][i] | prompt, candidates[j][0..i)). Throws when one list is a
 * strict prefix of another (the walk would need the probability of stopping there: end lists with EOS).
 */
export function constrainedGreedyChoice(candidates: ArrayLike<number>[], tokenLogps: ArrayLike<number>[]): ConstrainedChoice {
  if (candidates.length === 0) throw new RangeError("constrainedGreedyChoice: no candidates");
  if (tokenLogps.length !== candidates.length) {
    throw new RangeError(`constrainedGreedyChoice: ${candidates.length} candidates but ${tokenLogps.length} per-token log-prob lists`);
  }
  candidates.forEach((tokens, j) => {
    if (tokens.length === 0) throw new RangeError(`constrainedGreedyChoice: candidate ${j} has no tokens`);
    if (tokenLogps[j].length !== tokens.length) {
      throw new RangeError(`constrainedGreedyChoice: candidate ${j} has ${tokens.length} tokens but ${tokenLogps[j].length} log-probs`);
    }
  });

  let alive = candidates.map((_, j) => j);
  let logp = 0;
  for (let depth = 0; ; depth++) {
    const ended = alive.filter((j) => candidates[j].length === depth);
    if (ended.length > 0) {
      const longer = alive.find((j) => candidates[j].length > depth);
      if (longer !== undefined) {
        throw new RangeError(
          `constrainedGreedyChoice: candidate ${ended[0]}'s tokens are a strict prefix of candidate ${longer}'s; ` +
            "each candidate's token list must end with EOS so that stopping is a token of its own"
        );
      }
      return { candidate: ended[0], matching: ended, logp };
    }
    // Children of this node: next token -> log-prob from the first candidate carrying it.
    let bestToken = 0;
    let bestLogp = -Infinity;
    let found = false;
    const seen = new Set<number>();
    for (const j of alive) {
      const token = candidates[j][depth];
      if (seen.has(token)) continue;
      seen.add(token);
      const value = Number.isNaN(tokenLogps[j][depth]) ? -Infinity : tokenLogps[j][depth];
      if (!found || value > bestLogp) {
        bestToken = token;
        bestLogp = value;
        found = true;
      }
    }
    logp += bestLogp;
    alive = alive.filter((j) => candidates[j][depth] === bestToken);
  }
}
