/** RoDPO negative pool: top-poolSize by score, positive excluded, deterministic ties, sampling, state round trip. */
import { NegativePool, type PoolUpdate } from "../../src/negatives/pool";
import { SeededRng } from "../../src/rng";
import { expectThrows } from "../helpers";

/** Two examples (rows 40 and 41) with 6 and 4 candidates. */
function update(): PoolUpdate {
  return {
    rows: [40, 41],
    positives: [3, 20],
    candidateOffsets: [0, 6, 10],
    candidateItems: [1, 2, 3, 4, 5, 6, /* row 41 */ 20, 21, 22, 23],
    scores: [-5, -1, 9, -1, -3, -0.5, /* row 41 */ 0, -2, -1, -3],
  };
}

describe("NegativePool.refresh", () => {
  test("keeps the highest-scored candidates, best first, without the positive; ties go to the smaller item id", () => {
    const pool = new NegativePool({ poolSize: 3 });
    pool.refresh(update());
    // Row 40: item 3 (score 9) is the positive; then 6 (-0.5), and 2 and 4 tie at -1: 2 first.
    expect(Array.from(pool.poolOf(40)!)).toEqual([6, 2, 4]);
    expect(Array.from(pool.poolOf(41)!)).toEqual([22, 21, 23]);
    expect(pool.size).toBe(2);
  });

  test("ties do not depend on candidate order; repeated items count once with their best score", () => {
    const u = update();
    const reversed: PoolUpdate = { ...u, candidateItems: [6, 5, 4, 3, 2, 1, 23, 22, 21, 20], scores: [-0.5, -3, -1, 9, -1, -5, -3, -1, -2, 0] };
    const a = new NegativePool({ poolSize: 4 });
    const b = new NegativePool({ poolSize: 4 });
    a.refresh(u);
    b.refresh(reversed);
    expect(a.toJSON().pools).toEqual(b.toJSON().pools);
    const repeated = new NegativePool({ poolSize: 2 });
    repeated.refresh({ rows: [0], positives: [9], candidateOffsets: [0, 4], candidateItems: [1, 2, 1, 9], scores: [-9, -2, 5, 10] });
    expect(Array.from(repeated.poolOf(0)!)).toEqual([1, 2]);
  });

  test("a refresh replaces a row's pool; a pool can be smaller than poolSize", () => {
    const pool = new NegativePool({ poolSize: 10 });
    pool.refresh(update());
    expect(pool.poolOf(41)!.length).toBe(3);
    pool.refresh({ rows: [41], positives: [20], candidateOffsets: [0, 3], candidateItems: [21, 22, 23], scores: [5, 4, 6] });
    expect(Array.from(pool.poolOf(41)!)).toEqual([23, 21, 22]);
    expect(Array.from(pool.poolOf(40)!)).toEqual([6, 2, 4, 5, 1]);
  });

  test("the pool picks the top items of random scores (checked against a sort)", () => {
    const rng = new SeededRng(5);
    const items = Array.from({ length: 50 }, (_, i) => i);
    const scores = items.map(() => rng.next());
    const pool = new NegativePool({ poolSize: 8 });
    pool.refresh({ rows: [0], positives: [7], candidateOffsets: [0, 50], candidateItems: items, scores });
    const expected = items.filter((i) => i !== 7).sort((x, y) => scores[y] - scores[x]).slice(0, 8);
    expect(Array.from(pool.poolOf(0)!)).toEqual(expected);
  });

  test("bad updates are errors and change nothing", () => {
    const pool = new NegativePool({ poolSize: 2 });
    pool.refresh(update());
    const before = pool.toJSON();
    expectThrows(() => pool.refresh({ ...update(), scores: [1, 2] }), "RangeError", /scores must have one value per candidate \(10\), got 2/);
    expectThrows(() => pool.refresh({ ...update(), positives: [1] }), "RangeError", /positives must have length N = 2/);
    expectThrows(() => pool.refresh({ ...update(), candidateOffsets: [0, 6] }), "RangeError", /candidateOffsets must have length N \+ 1 = 3/);
    expectThrows(() => pool.refresh({ ...update(), candidateOffsets: [0, 12, 10] }), "RangeError", /candidateOffsets\[0\.\.1\] = 0\.\.12 is not a range/);
    expectThrows(() => pool.refresh({ ...update(), scores: [0, 0, 0, 0, 0, 0, 0, NaN, 0, 0] }), "RangeError", /scores\[7\] \(row 41, item 21\) is NaN/);
    expectThrows(() => pool.refresh({ ...update(), rows: [40, -1] }), "RangeError", /rows\[1\] must be an integer >= 0, got -1/);
    expect(pool.toJSON()).toEqual(before);
    expectThrows(() => new NegativePool({ poolSize: 0 }), "RangeError", /options\.poolSize must be an integer >= 1, got 0/);
    expectThrows(() => new NegativePool({ poolSize: 2, selection: "top" as "hard" }), "RangeError", /options\.selection must be "random" or "hard", got "top"/);
  });
});

describe("NegativePool.sample", () => {
  const poolOf = (selection: "random" | "hard", seed = 1) => {
    const pool = new NegativePool({ poolSize: 5, selection, seed });
    pool.refresh(update());
    return pool;
  };

  test("hard: the top k", () => {
    const pool = poolOf("hard");
    expect(Array.from(pool.sample(40, 2))).toEqual([6, 2]);
    expect(Array.from(pool.sample(40, 9))).toEqual([6, 2, 4, 5, 1]); // a smaller pool gives what it has
  });

  test("random: k distinct pool items, uniform-ish, reproducible from the seed", () => {
    const pool = poolOf("random", 9);
    const counts = new Map<number, number>();
    for (let t = 0; t < 5000; t++) {
      const drawn = Array.from(pool.sample(40, 2));
      expect(new Set(drawn).size).toBe(2);
      for (const item of drawn) {
        expect([6, 2, 4, 5, 1]).toContain(item);
        counts.set(item, (counts.get(item) ?? 0) + 1);
      }
    }
    // Each of the 5 items is drawn with probability 2/5 per sample: 2000 of 5000.
    for (const count of counts.values()) expect(Math.abs(count - 2000)).toBeLessThan(150);
    const again = poolOf("random", 9);
    const other = poolOf("random", 10);
    const draw = (p: NegativePool) => Array.from({ length: 20 }, () => Array.from(p.sample(41, 2)));
    const first = draw(poolOf("random", 9));
    expect(draw(again)).toEqual(first);
    expect(draw(other)).not.toEqual(first);
  });

  test("a caller's generator is used instead of the pool's own", () => {
    const pool = poolOf("random", 9);
    const before = pool.rng.toJSON();
    const external = new SeededRng(77);
    pool.sample(40, 3, { rng: external });
    expect(pool.rng.toJSON()).toEqual(before);
    expect(external.toJSON()).not.toEqual(new SeededRng(77).toJSON());
  });

  test("an example not scored yet draws from its fallback candidates, positive left out", () => {
    const pool = poolOf("random");
    for (let t = 0; t < 50; t++) {
      const drawn = Array.from(pool.sample(99, 3, { fallback: { candidates: [5, 6, 7, 7, 8], positive: 7 } }));
      expect(drawn).toHaveLength(3);
      expect(new Set(drawn).size).toBe(3);
      expect(drawn).not.toContain(7);
    }
    expectThrows(() => pool.sample(99, 3), "RangeError", /example row 99 has no pool yet \(refresh it first\) and no fallback/);
    expectThrows(() => pool.sample(40, -1), "RangeError", /sample: k must be an integer >= 0/);
  });
});

describe("NegativePool state", () => {
  test("toJSON / fromJSON round trip through JSON text: same pools, same draws afterwards", () => {
    const pool = new NegativePool({ poolSize: 4, seed: 123 });
    pool.refresh(update());
    pool.sample(40, 2); // advance the generator
    const restored = NegativePool.fromJSON(JSON.parse(JSON.stringify(pool)));
    expect(restored.toJSON()).toEqual(pool.toJSON());
    expect(restored.poolSize).toBe(4);
    expect(restored.selection).toBe("random");
    for (let t = 0; t < 20; t++) expect(Array.from(restored.sample(40, 3))).toEqual(Array.from(pool.sample(40, 3)));
  });

  test("SeededRng state round trip and bad states", () => {
    const rng = new SeededRng(-5);
    rng.nextUint32();
    const copy = SeededRng.fromJSON(JSON.parse(JSON.stringify(rng)));
    expect(Array.from({ length: 10 }, () => copy.nextUint32())).toEqual(Array.from({ length: 10 }, () => rng.nextUint32()));
    expectThrows(() => SeededRng.fromJSON({ state: -1 }), "RangeError", /unsigned 32-bit integer, got -1/);
    expectThrows(() => SeededRng.fromJSON({ state: 2 ** 32 }), "RangeError", /unsigned 32-bit integer/);
  });

  test("fromJSON refuses states it cannot trust", () => {
    const good = () => new NegativePool({ poolSize: 2 }).toJSON();
    expectThrows(() => NegativePool.fromJSON({ ...good(), version: 2 as 1 }), "RangeError", /unknown version 2/);
    expectThrows(() => NegativePool.fromJSON({ ...good(), pools: [[1, [1, 2, 3]]] }), "RangeError", /row 1 holds 3 items, more than poolSize 2/);
    expectThrows(() => NegativePool.fromJSON({ ...good(), pools: [[1, [1]], [1, [2]]] }), "RangeError", /row 1 appears twice/);
    expectThrows(() => NegativePool.fromJSON({ ...good(), pools: [[1, [1.5]]] }), "TypeError", /row 1 item 0 is not an integer/);
    expectThrows(() => NegativePool.fromJSON({ ...good(), poolSize: 0 }), "RangeError", /poolSize must be an integer >= 1/);
  });
});
