/**
 * A bounds-checked reader of FlatBuffers tables, for the metadata of Arrow IPC files. Every read is checked
 * against the buffer, every vector's length against the bytes left, so a corrupt file gives a FlatBufferError
 * instead of a loop or a huge allocation. It reads with the same semantics as the flatbuffers JS runtime that
 * apache-arrow decodes with (signed 16-bit vtable entries, signed 32-bit offsets), refusing what that runtime
 * would read as a backward offset, so what passes here decodes there to the same values.
 */

/** FlatBuffers strings are UTF-8; a bad byte is corruption, not a character to replace. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

export class FlatBufferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlatBufferError";
  }
}

export class FlatBuffer {
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  private need(pos: number, size: number, what: string): void {
    if (!(Number.isInteger(pos) && pos >= 0 && pos + size <= this.length)) {
      throw new FlatBufferError(`${what} at byte ${pos} runs past the ${this.length}-byte metadata`);
    }
  }

  u8(pos: number): number {
    this.need(pos, 1, "byte");
    return this.view.getUint8(pos);
  }

  i16(pos: number): number {
    this.need(pos, 2, "int16");
    return this.view.getInt16(pos, true);
  }

  i32(pos: number): number {
    this.need(pos, 4, "int32");
    return this.view.getInt32(pos, true);
  }

  /** An int64 that must fit a double exactly (every length and offset in an Arrow file does). */
  i64(pos: number, what: string): number {
    this.need(pos, 8, "int64");
    const value = this.view.getBigInt64(pos, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FlatBufferError(`${what} ${value} is out of range`);
    }
    return Number(value);
  }

  /** The target of the uoffset stored at `pos`: forward only, inside the buffer. */
  indirect(pos: number, what: string): number {
    const offset = this.i32(pos);
    if (offset <= 0) throw new FlatBufferError(`${what}: offset ${offset} at byte ${pos} does not point forward`);
    const target = pos + offset;
    if (target >= this.length) throw new FlatBufferError(`${what}: offset at byte ${pos} points past the metadata`);
    return target;
  }

  /** The table the buffer's root offset names. */
  root(what: string): FlatTable {
    return this.table(this.indirect(0, what), what);
  }

  table(pos: number, what: string): FlatTable {
    const vtable = pos - this.i32(pos);
    this.need(vtable, 4, `${what} vtable`);
    const vtableSize = this.i16(vtable);
    const tableSize = this.i16(vtable + 2);
    if (vtableSize < 4 || vtableSize % 2 !== 0) throw new FlatBufferError(`${what}: vtable size ${vtableSize} is invalid`);
    if (tableSize < 4) throw new FlatBufferError(`${what}: table size ${tableSize} is invalid`);
    this.need(vtable, vtableSize, `${what} vtable`);
    this.need(pos, tableSize, what);
    return new FlatTable(this, pos, vtable, vtableSize, tableSize, what);
  }
}

/** One table: fields by their index in the schema (0, 1, ...). */
export class FlatTable {
  constructor(
    readonly fb: FlatBuffer,
    readonly pos: number,
    private readonly vtable: number,
    private readonly vtableSize: number,
    private readonly tableSize: number,
    readonly what: string,
  ) {}

  /** Absolute position of field `index` (`size` bytes inline), or 0 when absent. */
  private field(index: number, size: number): number {
    const slot = 4 + 2 * index;
    if (slot >= this.vtableSize) return 0;
    const offset = this.fb.i16(this.vtable + slot);
    if (offset === 0) return 0;
    if (offset < 4 || offset + size > this.tableSize) {
      throw new FlatBufferError(`${this.what}: field ${index} lies outside its table`);
    }
    return this.pos + offset;
  }

  has(index: number): boolean {
    return this.field(index, 1) !== 0;
  }

  u8(index: number, fallback: number): number {
    const at = this.field(index, 1);
    return at === 0 ? fallback : this.fb.u8(at);
  }

  i16(index: number, fallback: number): number {
    const at = this.field(index, 2);
    return at === 0 ? fallback : this.fb.i16(at);
  }

  i32(index: number, fallback: number): number {
    const at = this.field(index, 4);
    return at === 0 ? fallback : this.fb.i32(at);
  }

  i64(index: number, fallback: number, what: string): number {
    const at = this.field(index, 8);
    return at === 0 ? fallback : this.fb.i64(at, `${this.what} ${what}`);
  }

  table(index: number, what: string): FlatTable | undefined {
    const at = this.field(index, 4);
    return at === 0 ? undefined : this.fb.table(this.fb.indirect(at, what), what);
  }

  /** A vector's first element position and length; every element (elementSize bytes) inside the buffer. */
  vector(index: number, elementSize: number, what: string): { start: number; length: number } | undefined {
    const at = this.field(index, 4);
    if (at === 0) return undefined;
    const pos = this.fb.indirect(at, what);
    const length = this.fb.i32(pos);
    if (length < 0 || pos + 4 + length * elementSize > this.fb.length) {
      throw new FlatBufferError(`${what}: vector of ${length} elements runs past the metadata`);
    }
    return { start: pos + 4, length };
  }

  tables(index: number, what: string): FlatTable[] {
    const vector = this.vector(index, 4, what);
    if (!vector) return [];
    const out: FlatTable[] = [];
    for (let i = 0; i < vector.length; i++) {
      out.push(this.fb.table(this.fb.indirect(vector.start + 4 * i, what), what));
    }
    return out;
  }

  string(index: number, what: string): string | undefined {
    const vector = this.vector(index, 1, what);
    if (!vector) return undefined;
    try {
      return UTF8.decode(this.fb.bytes.subarray(vector.start, vector.start + vector.length));
    } catch {
      throw new FlatBufferError(`${what} is not valid UTF-8`);
    }
  }
}
