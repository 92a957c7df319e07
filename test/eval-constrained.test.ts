/**
 * Greedy decoding restricted to candidate titles, on hand-made per-token log-probs: the walk follows the
 * best child at each trie node (not the best whole sequence), stops at EOS when one title is a prefix of
 * another, and refuses lists it cannot decide between.
 */
import { constrainedGreedyChoice } from "../src/eval/constrained";

const EOS = 0;

test("follows the greedy path, not the highest summed log-prob", () => {
  // Tokens: 1 = "The", 2 = "Beatles", 3 = "Cure", 4 = "Abba".
  const candidates = [
    [1, 2, EOS], // The Beatles
    [1, 3, EOS], // The Cure
    [4, EOS], // Abba
  ];
  // "The" beats "Abba" at the root (-0.5 > -0.9), then "Cure" beats "Beatles"; yet Abba has the best sum.
  const logps = [
    [-0.5, -2.0, -0.1],
    [-0.5, -1.0, -0.2],
    [-0.9, -0.05],
  ];
  const choice = constrainedGreedyChoice(candidates, logps);
  expect(choice.candidate).toBe(1);
  expect(choice.matching).toEqual([1]);
  expect(choice.logp).toBeCloseTo(-1.7, 12);

  // Lower "The" below "Abba" at the root: Abba.
  const lower = logps.map((l, j) => (j < 2 ? [-1.0, ...l.slice(1)] : l));
  expect(constrainedGreedyChoice(candidates, lower).candidate).toBe(2);
});

test("a title that is a prefix of another: EOS after 'Queen' is a child like any token", () => {
  // 5 = "Queen", 6 = "Latifah".
  const candidates = [
    [5, EOS], // Queen
    [5, 6, EOS], // Queen Latifah
  ];
  // After "Queen": EOS (-0.4) vs "Latifah" (-1.2): stop at Queen.
  expect(constrainedGreedyChoice(candidates, [[-0.3, -0.4], [-0.3, -1.2, -0.01]]).candidate).toBe(0);
  // "Latifah" (-0.2) beats EOS (-0.4): Queen Latifah, even though its remaining EOS is unlikely.
  expect(constrainedGreedyChoice(candidates, [[-0.3, -0.4], [-0.3, -0.2, -5]]).candidate).toBe(1);
  // Order of the candidates does not matter.
  expect(constrainedGreedyChoice([candidates[1], candidates[0]], [[-0.3, -0.2, -5], [-0.3, -0.4]]).candidate).toBe(0);
});

test("the log-prob of a shared prefix comes from the first candidate carrying it; ties go to the earlier child", () => {
  const candidates = [
    [7, 8, EOS],
    [9, EOS],
    [7, 10, EOS],
  ];
  // Candidate 2's copy of token 7 differs (rounding in a batched pass): candidate 0's value is used, so 9 wins.
  expect(constrainedGreedyChoice(candidates, [[-1, -1, -1], [-0.9, -1], [-0.1, -1, -1]]).candidate).toBe(1);
  // Equal root log-probs: 7 (first seen) wins; equal again below: 8.
  expect(constrainedGreedyChoice(candidates, [[-1, -2, -1], [-1, -1], [-1, -2, -1]]).candidate).toBe(0);
  // NaN is never chosen over a number.
  expect(constrainedGreedyChoice(candidates, [[NaN, -1, -1], [-50, -1], [NaN, -1, -1]]).candidate).toBe(1);
});

test("identical token lists (a title listed twice) are all reported", () => {
  const choice = constrainedGreedyChoice([[3, EOS], [4, EOS], [3, EOS]], [[-0.1, -0.1], [-2, -0.1], [-0.1, -0.1]]);
  expect(choice.candidate).toBe(0);
  expect(choice.matching).toEqual([0, 2]);
});

test("refuses lists it cannot decide between, and mismatched shapes", () => {
  expect(() => constrainedGreedyChoice([[5], [5, 6]], [[-1], [-1, -1]])).toThrow(/candidate 0's tokens are a strict prefix of candidate 1's/);
  expect(() => constrainedGreedyChoice([], [])).toThrow(/no candidates/);
  expect(() => constrainedGreedyChoice([[1, EOS]], [[-1]])).toThrow(/candidate 0 has 2 tokens but 1 log-probs/);
  expect(() => constrainedGreedyChoice([[]], [[]])).toThrow(/candidate 0 has no tokens/);
  expect(() => constrainedGreedyChoice([[1]], [])).toThrow(/1 candidates but 0/);
});
