import { ListGather, packReference, unpack } from "../../src/data/pack";

describe("ListGather", () => {
  const a = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const b = Int32Array.from([9, 10, 11]);

  it("gives a view on the buffer when the lists are back to back", () => {
    const g = new ListGather();
    g.add(a, 1, 3);
    g.add(a, 3, 3);
    g.add(a, 3, 6);
    const packed = g.pack();
    expect(packed.values).toBe(a);
    expect(Array.from(packed.offsets)).toEqual([1, 3, 3, 6]);
    expect(unpack(packed)).toEqual(unpack(packReference([[2, 3], [], [4, 5, 6]])));
  });

  it("copies when lists are apart or in different buffers, matching the reference", () => {
    const g = new ListGather();
    g.add(a, 5, 7);
    g.add(b, 0, 2);
    g.add(a, 0, 1);
    const packed = g.pack();
    expect(packed.values).not.toBe(a);
    expect(packed).toEqual(packReference([[6, 7], [9, 10], [1]]));
  });

  it("packs nothing as one zero offset", () => {
    expect(new ListGather().pack()).toEqual({ values: new Int32Array(0), offsets: new Int32Array(1) });
  });
});
