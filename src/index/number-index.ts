/**
 * The index of one number attribute, answering ranges with a roaring bitmap of slots. Two layouts:
 *   - few distinct values (≤ MAX_VALUE_BITMAPS): one bitmap per value, kept in LMDB and read when a
 *     range needs it (memory: the distinct values and their counts). A range is the OR of the
 *     bitmaps inside it — or, when it keeps most vectors, the attribute's slots ('all') minus the OR
 *     of the bitmaps outside it;
 *   - otherwise: (value, slot) pairs sorted by value, in memory (12 bytes per vector), a range being
 *     two binary searches.
 * Either way the work per range is proportional to the smaller side of it.
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import { lowerBound, upperBound } from '../util/bounds.js';
import { type BitmapParts, compact, removeFromParts } from './bitmaps.js';
import type { NumberRecord } from '../storage/records.js';
export type { NumberRecord } from '../storage/records.js';

/** Most distinct values kept as one bitmap each. */
export const MAX_VALUE_BITMAPS = 4096;


export interface NumberIndex {
  range(lo: number, loOpen: boolean, hi: number, hiOpen: boolean): RoaringBitmap32;
  /**
   * Add (value, slot) pairs (slots not yet in the index), writing changed bitmaps through the parts;
   * false when the layout cannot take them in place (a new distinct value for the bitmap layout):
   * the caller rebuilds from pairs() plus the new ones.
   */
  add(values: number[], slots: number[]): boolean;
  /** Every (value, slot) pair (for a rebuild). */
  pairs(): { values: Float64Array; slots: Uint32Array };
  /** Drop `slots` (writing changed bitmaps through the parts). */
  remove(slots: RoaringBitmap32): void;
  /** Bytes held in memory. */
  memoryBytes(): number;
  toRecord(): NumberRecord;
  dispose(): void;
}

/** A built number index: its record and the bitmaps to store with it (bitmap layout). */
export interface BuiltNumberIndex {
  record: NumberRecord;
  parts: Array<[number | 'all', Uint8Array]>;
}

function bounds(values: Float64Array, lo: number, loOpen: boolean, hi: number, hiOpen: boolean): [number, number] {
  return [loOpen ? upperBound(values, lo) : lowerBound(values, lo), hiOpen ? lowerBound(values, hi) : upperBound(values, hi)];
}

class ValueBitmaps implements NumberIndex {
  private prefix: Float64Array;

  constructor(
    private readonly values: Float64Array,
    private readonly counts: Uint32Array,
    private readonly parts: BitmapParts,
  ) {
    this.prefix = prefixOf(counts);
  }

  range(lo: number, loOpen: boolean, hi: number, hiOpen: boolean): RoaringBitmap32 {
    const [a, b] = bounds(this.values, lo, loOpen, hi, hiOpen);
    if (b <= a) return new RoaringBitmap32();
    const inside = this.prefix[b] - this.prefix[a];
    if (inside <= this.prefix[this.values.length] - inside) return this.union(a, b);
    const outside = this.union(0, a);
    const after = this.union(b, this.values.length);
    outside.orInPlace(after);
    after.dispose();
    const out = this.parts.read('all') ?? new RoaringBitmap32();
    out.andNotInPlace(outside);
    outside.dispose();
    return out;
  }

  /** OR of the bitmaps of values [a, b). */
  private union(a: number, b: number): RoaringBitmap32 {
    const out = new RoaringBitmap32();
    for (let i = a; i < b; i++) {
      if (this.counts[i] === 0) continue;
      const part = this.parts.read(i);
      if (!part) continue;
      out.orInPlace(part);
      part.dispose();
    }
    return out;
  }

  add(values: number[], slots: number[]): boolean {
    const byValue = new Map<number, number[]>();
    for (let i = 0; i < values.length; i++) {
      const at = lowerBound(this.values, values[i]);
      if (at >= this.values.length || this.values[at] !== values[i]) return false;
      let list = byValue.get(at);
      if (!list) byValue.set(at, (list = []));
      list.push(slots[i]);
    }
    for (const [at, list] of byValue) {
      const part = this.parts.read(at) ?? new RoaringBitmap32();
      part.addMany(list);
      this.counts[at] = part.size;
      this.parts.write(at, compact(part).serialize('portable'));
      part.dispose();
    }
    const all = this.parts.read('all') ?? new RoaringBitmap32();
    all.addMany(slots);
    this.parts.write('all', compact(all).serialize('portable'));
    all.dispose();
    this.prefix = prefixOf(this.counts);
    return true;
  }

  pairs(): { values: Float64Array; slots: Uint32Array } {
    const values: number[] = [], slots: number[] = [];
    for (let i = 0; i < this.values.length; i++) {
      if (this.counts[i] === 0) continue;
      const part = this.parts.read(i);
      if (!part) continue;
      for (const s of part.toUint32Array()) {
        values.push(this.values[i]);
        slots.push(s);
      }
      part.dispose();
    }
    return { values: Float64Array.from(values), slots: Uint32Array.from(slots) };
  }

  remove(slots: RoaringBitmap32): void {
    removeFromParts(this.parts, this.counts, slots);
    const all = this.parts.read('all');
    if (all) {
      all.andNotInPlace(slots);
      this.parts.write('all', all.serialize('portable'));
      all.dispose();
    }
    this.prefix = prefixOf(this.counts);
  }

  memoryBytes(): number {
    return this.values.byteLength + this.counts.byteLength + this.prefix.byteLength;
  }

  toRecord(): NumberRecord {
    return { values: bytesOf(this.values), counts: bytesOf(this.counts) };
  }

  dispose(): void {}
}

class SortedColumn implements NumberIndex {
  private present: RoaringBitmap32;

  constructor(
    private values: Float64Array,
    private slots: Uint32Array,
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

  add(values: number[], slots: number[]): boolean {
    const all = [...this.values.keys()].map((i) => [this.values[i], this.slots[i]] as [number, number]);
    for (let i = 0; i < values.length; i++) all.push([values[i], slots[i]]);
    all.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.values = Float64Array.from(all, (x) => x[0]);
    this.slots = Uint32Array.from(all, (x) => x[1]);
    this.present.addMany(slots);
    return true;
  }

  pairs(): { values: Float64Array; slots: Uint32Array } {
    return { values: this.values, slots: this.slots };
  }

  remove(slots: RoaringBitmap32): void {
    const keep: number[] = [];
    for (let i = 0; i < this.slots.length; i++) if (!slots.has(this.slots[i])) keep.push(i);
    this.values = Float64Array.from(keep, (i) => this.values[i]);
    this.slots = Uint32Array.from(keep, (i) => this.slots[i]);
    this.present.andNotInPlace(slots);
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

/** Index (value, slot) pairs, in any order: the record, plus the bitmaps to store (bitmap layout). */
export function buildNumberIndex(values: Float64Array, slots: Uint32Array): BuiltNumberIndex {
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
  if (distinct.length > MAX_VALUE_BITMAPS) return { record: { values: bytesOf(sortedValues), slots: bytesOf(sortedSlots) }, parts: [] };
  starts.push(sortedValues.length);
  const parts: Array<[number | 'all', Uint8Array]> = [];
  const counts = new Uint32Array(distinct.length);
  for (let d = 0; d < distinct.length; d++) {
    const b = compact(RoaringBitmap32.from(sortedSlots.subarray(starts[d], starts[d + 1])));
    counts[d] = b.size;
    parts.push([d, b.serialize('portable')]);
    b.dispose();
  }
  const all = compact(RoaringBitmap32.from(slots));
  parts.push(['all', all.serialize('portable')]);
  all.dispose();
  return { record: { values: bytesOf(Float64Array.from(distinct)), counts: bytesOf(counts) }, parts };
}

/** Open a persisted number index; null when the record is malformed. */
export function openNumberIndex(rec: NumberRecord, parts: BitmapParts): NumberIndex | null {
  if (!(rec.values instanceof Uint8Array) || rec.values.byteLength % 8 !== 0) return null;
  const values = new Float64Array(rec.values.byteLength / 8);
  new Uint8Array(values.buffer).set(rec.values);
  if (rec.counts) {
    if (!(rec.counts instanceof Uint8Array) || rec.counts.byteLength !== values.length * 4) return null;
    const counts = new Uint32Array(values.length);
    new Uint8Array(counts.buffer).set(rec.counts);
    return new ValueBitmaps(values, counts, parts);
  }
  if (!(rec.slots instanceof Uint8Array) || rec.values.byteLength !== 2 * rec.slots.byteLength) return null;
  const slots = new Uint32Array(rec.slots.byteLength / 4);
  new Uint8Array(slots.buffer).set(rec.slots);
  return new SortedColumn(values, slots);
}

function prefixOf(counts: Uint32Array): Float64Array {
  const prefix = new Float64Array(counts.length + 1);
  for (let i = 0; i < counts.length; i++) prefix[i + 1] = prefix[i] + counts[i];
  return prefix;
}

function bytesOf(a: Float64Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}
