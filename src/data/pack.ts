/**
 * Building a batch's PackedTokens from lists spread over record batches. When the lists sit back to
 * back in one Arrow buffer (no shuffle, fixed negatives) the values are a view on it and only the
 * offsets are new; otherwise the values are gathered into one new Int32Array (the unavoidable copy:
 * PackedTokens needs list i + 1 to start where list i ends).
 */
import type { PackedTokens } from "./batch";

/** Collects lists as (buffer, start, end) and packs them. */
export class ListGather {
  private readonly buffers: Int32Array[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  add(buffer: Int32Array, start: number, end: number): void {
    this.buffers.push(buffer);
    this.starts.push(start);
    this.ends.push(end);
  }

  get count(): number {
    return this.starts.length;
  }

  pack(): PackedTokens {
    const n = this.starts.length;
    const offsets = new Int32Array(n + 1);
    if (n === 0) return { values: new Int32Array(0), offsets };
    const first = this.buffers[0];
    let contiguous = true;
    for (let i = 0; i < n && contiguous; i++) {
      contiguous = this.buffers[i] === first && (i === n - 1 || this.ends[i] === this.starts[i + 1]);
    }
    if (contiguous) {
      for (let i = 0; i < n; i++) offsets[i] = this.starts[i];
      offsets[n] = this.ends[n - 1];
      return { values: first, offsets };
    }
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + (this.ends[i] - this.starts[i]);
    const values = new Int32Array(offsets[n]);
    for (let i = 0; i < n; i++) values.set(this.buffers[i].subarray(this.starts[i], this.ends[i]), offsets[i]);
    return { values, offsets };
  }
}

/** Slow obvious reference: every list copied out, then concatenated. */
export function packReference(lists: ArrayLike<number>[]): PackedTokens {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => (offsets[i + 1] = offsets[i] + l.length));
  const values = new Int32Array(offsets[lists.length]);
  lists.forEach((l, i) => values.set(Array.from(l), offsets[i]));
  return { values, offsets };
}

/** The lists of a PackedTokens, copied out (tests, debugging). */
export function unpack(packed: PackedTokens): Int32Array[] {
  const out: Int32Array[] = [];
  for (let i = 0; i + 1 < packed.offsets.length; i++) {
    out.push(packed.values.slice(packed.offsets[i], packed.offsets[i + 1]));
  }
  return out;
}
