/**
 * The index of one number attribute, answering ranges with a roaring bitmap of slots. Two layouts:
 *   - few distinct values (≤ MAX_VALUE_BITMAPS): one bitmap per value and prefix counts, so a range
 *     is an OR of the bitmaps inside it — or, when it keeps most vectors, the attribute's slots minus
 *     the OR of the bitmaps outside it (about 2 bytes per vector in memory);
 *   - otherwise: (value, slot) pairs sorted by value, a range being two binary searches (12 bytes per
 *     vector).
 * Either way the work per range is proportional to the smaller side of it.
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import { lowerBound, upperBound } from './bounds.js';
import { compact } from './bitmaps.js';

/** Most distinct values kept as one bitmap each. */
export const MAX_VALUE_BITMAPS = 4096;

/** Persisted form (inside the attribute's record). */
export interface NumberRecord {
  /** float64 values, little-endian: the distinct values (bitmaps) or every value, sorted. */
  values: Uint8Array;
  /** Sorted layout: u32 slots in value order. */
  slots?: Uint8Array;
  /** Bitmap layout: portable bitmaps, one per distinct value. */
  bitmaps?: Uint8Array[];
}

export interface NumberIndex {
  range(lo: number, loOpen: boolean, hi: number, hiOpen: boolean): RoaringBitmap32;
  /** A copy without `slots`. */
  without(slots: RoaringBitmap32): NumberIndex;
  memoryBytes(): number;
  toRecord(): NumberRecord;
  dispose(): void;
}

function bounds(values: Float64Array, lo: number, loOpen: boolean, hi: number, hiOpen: boolean): [number, number] {
  return [loOpen ? upperBound(values, lo) : lowerBound(values, lo), hiOpen ? lowerBound(values, hi) : upperBound(values, hi)];
}

class ValueBitmaps implements NumberIndex {
  private readonly prefix: Float64Array;
  private readonly present: RoaringBitmap32;

  constructor(
    private readonly values: Float64Array,
    private readonly bitmaps: RoaringBitmap32[],
  ) {
    this.prefix = new Float64Array(values.length + 1);
    for (let i = 0; i < bitmaps.length; i++) this.prefix[i + 1] = this.prefix[i] + bitmaps[i].size;
    this.present = RoaringBitmap32.orMany(bitmaps);
  }

  range(lo: number, loOpen: boolean, hi: number, hiOpen: boolean): RoaringBitmap32 {
    const [a, b] = bounds(this.values, lo, loOpen, hi, hiOpen);
    if (b <= a) return new RoaringBitmap32();
    const inside = this.prefix[b] - this.prefix[a];
    if (inside <= this.prefix[this.values.length] - inside) return RoaringBitmap32.orMany(this.bitmaps.slice(a, b));
    const outside = RoaringBitmap32.orMany([...this.bitmaps.slice(0, a), ...this.bitmaps.slice(b)]);
    const out = RoaringBitmap32.andNot(this.present, outside);
    outside.dispose();
    return out;
  }

  without(slots: RoaringBitmap32): NumberIndex {
    const values: number[] = [];
    const bitmaps: RoaringBitmap32[] = [];
    this.values.forEach((v, i) => {
      const b = RoaringBitmap32.andNot(this.bitmaps[i], slots);
      if (b.size > 0) {
        values.push(v);
        bitmaps.push(b);
      } else b.dispose();
    });
    return new ValueBitmaps(Float64Array.from(values), bitmaps);
  }

  memoryBytes(): number {
    let total = this.values.byteLength + this.prefix.byteLength + this.present.getSerializationSizeInBytes('croaring');
    for (const b of this.bitmaps) total += b.getSerializationSizeInBytes('croaring');
    return total;
  }

  toRecord(): NumberRecord {
    return { values: bytesOf(this.values), bitmaps: this.bitmaps.map((b) => b.serialize('portable')) };
  }

  dispose(): void {
    for (const b of this.bitmaps) b.dispose();
    this.present.dispose();
  }
}

class SortedColumn implements NumberIndex {
  private readonly present: RoaringBitmap32;

  constructor(
    private readonly values: Float64Array,
    private readonly slots: Uint32Array,
  ) {
    this.present = compact(RoaringBitmap32.from(slots));
  }

  range(lo: number, loOpen: boolean, hi: number, hiOpen: boolean): RoaringBitmap32 {
    const [a, b] = bounds(this.values, lo, loOpen, hi, hiOpen);
    if (b <= a) return new RoaringBitmap32();
    if (b - a <= this.values.length / 2) return RoaringBitmap32.from(this.slots.subarray(a, b));
    const outside = RoaringBitmap32.from(this.slots.subarray(0, a));
    outside.addMany(this.slots.subarray(b));
    const out = RoaringBitmap32.andNot(this.present, outside);
    outside.dispose();
    return out;
  }

  without(slots: RoaringBitmap32): NumberIndex {
    const keep: number[] = [];
    for (let i = 0; i < this.slots.length; i++) if (!slots.has(this.slots[i])) keep.push(i);
    return new SortedColumn(Float64Array.from(keep, (i) => this.values[i]), Uint32Array.from(keep, (i) => this.slots[i]));
  }

  memoryBytes(): number {
    return this.values.byteLength + this.slots.byteLength + this.present.getSerializationSizeInBytes('croaring');
  }

  toRecord(): NumberRecord {
    return { values: bytesOf(this.values), slots: bytesOf(this.slots) };
  }

  dispose(): void {
    this.present.dispose();
  }
}

/** Index (value, slot) pairs, in any order. */
export function buildNumberIndex(values: Float64Array, slots: Uint32Array): NumberIndex {
  const order = Uint32Array.from(values.keys()).sort((a, b) => values[a] - values[b] || slots[a] - slots[b]);
  const sortedValues = Float64Array.from(order, (i) => values[i]);
  const sortedSlots = Uint32Array.from(order, (i) => slots[i]);
  const distinct: number[] = [];
  const starts: number[] = [];
  for (let i = 0; i < sortedValues.length && distinct.length <= MAX_VALUE_BITMAPS; i++) {
    if (i === 0 || sortedValues[i] !== sortedValues[i - 1]) {
      distinct.push(sortedValues[i]);
      starts.push(i);
    }
  }
  if (distinct.length > MAX_VALUE_BITMAPS) return new SortedColumn(sortedValues, sortedSlots);
  starts.push(sortedValues.length);
  const bitmaps = distinct.map((_, d) => compact(RoaringBitmap32.from(sortedSlots.subarray(starts[d], starts[d + 1]))));
  return new ValueBitmaps(Float64Array.from(distinct), bitmaps);
}

/** Restore a persisted number index; null when the record is malformed. */
export function restoreNumberIndex(rec: NumberRecord): NumberIndex | null {
  if (!(rec.values instanceof Uint8Array) || rec.values.byteLength % 8 !== 0) return null;
  const values = new Float64Array(rec.values.byteLength / 8);
  new Uint8Array(values.buffer).set(rec.values);
  if (rec.bitmaps) {
    if (!Array.isArray(rec.bitmaps) || rec.bitmaps.length !== values.length) return null;
    return new ValueBitmaps(values, rec.bitmaps.map((b) => RoaringBitmap32.deserialize('portable', b)));
  }
  if (!(rec.slots instanceof Uint8Array) || rec.values.byteLength !== 2 * rec.slots.byteLength) return null;
  const slots = new Uint32Array(rec.slots.byteLength / 4);
  new Uint8Array(slots.buffer).set(rec.slots);
  return new SortedColumn(values, slots);
}

function bytesOf(a: Float64Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}
