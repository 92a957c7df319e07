/**
 * Seeded mutations of a file (an Arrow IPC file by default) for the fuzz tests: case specs (plain JSON, so they travel to
 * the child processes on the command line) and the function that applies one to the file's bytes.
 */
"use strict";

/** mulberry32: small, seeded, the same sequence everywhere. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, below: (n) => Math.floor(next() * n) };
}

/**
 * The byte ranges where the structure lives: the first record batch's message (continuation marker, length,
 * FlatBuffer) and the footer (schema, blocks). Mutations aim there half the time: that is where a reader
 * trusts lengths; a mutation of the bodies mostly changes values.
 */
function structuralRanges(bytes) {
  const size = bytes.length;
  const footerLength = bytes.readInt32LE(size - 10);
  const messageLength = bytes.readInt32LE(12);
  return [
    [8, Math.min(16 + messageLength, size)],
    [Math.max(0, size - 10 - footerLength), size],
  ];
}

const INTERESTING = [0, 1, -1, 2, 7, 8, 0x7fffffff, -0x80000000, 0x10000, 0x7ffffff8];

/** `count` seeded cases for `bytes`, ids from `firstId`; half the positions fall in `ranges` (default: an Arrow file's). */
function randomCases(bytes, seed, count, firstId = 0, ranges = structuralRanges(bytes)) {
  const r = rng(seed);
  const position = () => {
    if (r.next() < 0.5) return r.below(bytes.length);
    const [from, to] = ranges[r.below(ranges.length)];
    return from + r.below(to - from);
  };
  const cases = [];
  for (let i = 0; i < count; i++) {
    const id = firstId + i;
    const pick = r.next();
    if (pick < 0.55) {
      const n = 1 + r.below(4);
      const positions = [];
      const values = [];
      for (let j = 0; j < n; j++) {
        positions.push(position());
        values.push(r.below(256));
      }
      cases.push({ id, kind: "bytes", positions, values });
    } else if (pick < 0.9) {
      const pos = position() & ~3;
      const value = r.next() < 0.6 ? INTERESTING[r.below(INTERESTING.length)] : (r.below(0x100000000) | 0);
      cases.push({ id, kind: "int32", pos: Math.min(pos, bytes.length - 4), value });
    } else {
      cases.push({ id, kind: "truncate", length: r.below(bytes.length) });
    }
  }
  return cases;
}

/** The reproducers of issue 12, made from datasets/lastfm/valid.arrow. */
function reproducerCases(firstId) {
  const fixed = [
    { kind: "int32", pos: 12, value: 1 },
    { kind: "int32", pos: 12, value: -1 },
    { kind: "bytes", positions: [702593], values: [58] },
    { kind: "bytes", positions: [702635], values: [29] },
    { kind: "bytes", positions: [701371], values: [92] },
    { kind: "bytes", positions: [701128], values: [239] },
    { kind: "bytes", positions: [702232], values: [197] },
  ];
  return fixed.map((c, i) => ({ id: firstId + i, fixed: true, ...c }));
}

/** A mutated copy of `bytes`. */
function mutate(bytes, spec) {
  if (spec.kind === "truncate") return Buffer.from(bytes.subarray(0, spec.length));
  const out = Buffer.from(bytes);
  if (spec.kind === "int32") out.writeInt32LE(spec.value, spec.pos);
  else spec.positions.forEach((p, j) => (out[p] = spec.values[j]));
  return out;
}

module.exports = { randomCases, reproducerCases, mutate, rng };
