/**
 * Attribute indexes: per keyword (and boolean) value, a roaring bitmap of the slots that hold it; per
 * number attribute, a NumberIndex (one bitmap per distinct value, or value-sorted pairs). Bitmaps
 * live in LMDB (`attrBitmaps`, one record per value) and are read when a filter needs them; memory
 * holds each attribute's header (its values and how many vectors hold each). A filter (filter.ts)
 * evaluates to a roaring bitmap of slots, whose cardinality the planner reads before any vector is
 * touched.
 *
 * Attribute names and types are index-wide: the first value seen fixes an attribute's type, and a
 * value of another type is a coded error naming the row and the attribute.
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import { createError } from '../errors.js';
import { type Attributes, type FilterNode, type Scalar, checkAttributeName } from './filter.js';
import { type BitmapParts, compact, removeFromParts } from './bitmaps.js';
import { type NumberIndex, buildNumberIndex, openNumberIndex } from './number-index.js';
import type { AttributeType, AttributeRecord } from '../storage/records.js';
import type { AttributeRecords } from '../storage/index-records.js';

/** What the attribute index needs of the store: its bitmaps by (attribute, part). */
type BitmapRecords = Pick<AttributeRecords, 'bitmap' | 'putBitmap'>;
export type { AttributeType, AttributeRecord } from '../storage/records.js';


/** Most values one keyword attribute of one vector may list. */
export const MAX_KEYWORDS_PER_VALUE = 1024;
/** Longest keyword, in characters. */
export const MAX_KEYWORD_LENGTH = 1024;


/** A built attribute index, ready to be stored: headers and bitmaps. */
export interface BuiltAttributes {
  records: Array<[string, AttributeRecord]>;
  bitmaps: Array<[string, number | 'all', Uint8Array]>;
}

function typeOf(v: unknown): AttributeType | null {
  if (typeof v === 'string') return 'keyword';
  if (Array.isArray(v)) return 'keyword';
  if (typeof v === 'number') return Number.isFinite(v) ? 'number' : null;
  if (typeof v === 'boolean') return 'boolean';
  return null;
}

/** A keyword (or boolean) attribute: value -> part number, and vectors per part. */
interface KeywordIndex {
  keys: string[];
  part: Map<string, number>;
  counts: Uint32Array;
}

export class AttributeIndex {
  private readonly types = new Map<string, AttributeType>();
  private readonly keywords = new Map<string, KeywordIndex>();
  private readonly numbers = new Map<string, NumberIndex>();

  private constructor(private readonly store: BitmapRecords | null) {}

  /** An index with no attributes. */
  static empty(): AttributeIndex {
    return new AttributeIndex(null);
  }

  get names(): string[] {
    return [...this.types.keys()].sort();
  }

  type(name: string): AttributeType | undefined {
    return this.types.get(name);
  }

  /** Check every row (types, names, lengths) without indexing anything. */
  static check(rows: ReadonlyArray<Attributes | null | undefined>, field = 'attributes'): void {
    const types = new Map<string, AttributeType>();
    for (let r = 0; r < rows.length; r++) checkRow(rows[r], r, field, types);
  }

  /**
   * Index `rows[r]` as the attributes of slot `slotOf[r]`: headers and bitmaps to store. Every row
   * is checked before anything is indexed, so a bad value leaves nothing behind.
   */
  // Kept as a loop over small helpers: Node 20's TurboFan crashed the process (SIGSEGV, gone with
  // --no-turbo-inlining) when it optimised an earlier version with all of this in one function.
  static build(rows: ReadonlyArray<Attributes | null | undefined>, slotOf: Uint32Array, field = 'attributes'): BuiltAttributes {
    const types = new Map<string, AttributeType>();
    for (let r = 0; r < rows.length; r++) checkRow(rows[r], r, field, types);
    const numberRows = new Map<string, { values: number[]; slots: number[] }>();
    const keywordSlots = new Map<string, Map<string, number[]>>();
    for (let r = 0; r < rows.length; r++) {
      const a = rows[r];
      if (a) collectRow(a, slotOf[r], numberRows, keywordSlots);
    }
    const out: BuiltAttributes = { records: [], bitmaps: [] };
    for (const [name, m] of keywordSlots) {
      const keys = [...m.keys()];
      const counts = new Uint32Array(keys.length);
      keys.forEach((key, i) => {
        const b = compact(RoaringBitmap32.from(Uint32Array.from(m.get(key)!)));
        counts[i] = b.size;
        out.bitmaps.push([name, i, b.serialize('portable')]);
        b.dispose();
      });
      out.records.push([name, { type: types.get(name)!, keys, counts: new Uint8Array(counts.buffer) }]);
    }
    for (const [name, col] of numberRows) {
      const built = buildNumberIndex(Float64Array.from(col.values), Uint32Array.from(col.slots));
      out.records.push([name, { type: 'number', numbers: built.record }]);
      for (const [part, bytes] of built.parts) out.bitmaps.push([name, part, bytes]);
    }
    return out;
  }

  /** Slots matching `node`, within `universe` (the caller owns and disposes the result). */
  evaluate(node: FilterNode, universe: RoaringBitmap32, path = 'filter'): RoaringBitmap32 {
    switch (node.kind) {
      case 'and': {
        let acc = this.evaluate(node.items[0], universe, path);
        for (let i = 1; i < node.items.length && acc.size > 0; i++) {
          const next = this.evaluate(node.items[i], acc, path);
          acc.dispose();
          acc = next;
        }
        return acc;
      }
      case 'or': {
        const acc = new RoaringBitmap32();
        for (const item of node.items) {
          const part = this.evaluate(item, universe, path);
          acc.orInPlace(part);
          part.dispose();
        }
        return acc;
      }
      case 'not': {
        const inner = this.evaluate(node.item, universe, path);
        const out = RoaringBitmap32.andNot(universe, inner);
        inner.dispose();
        return out;
      }
      case 'in':
        return this.matchValues(node.field, node.values, universe, path);
      case 'range': {
        const t = this.types.get(node.field);
        if (t === undefined) return new RoaringBitmap32();
        if (t !== 'number') throw createError('STRATA_INVALID_FILTER', `${path}.${node.field} compares a ${t} attribute with a numeric range`, `${path}.${node.field}`);
        const found = this.numbers.get(node.field)!.range(node.lo, node.loOpen, node.hi, node.hiOpen);
        found.andInPlace(universe);
        return found;
      }
    }
  }

  private matchValues(name: string, values: Scalar[], universe: RoaringBitmap32, path: string): RoaringBitmap32 {
    const t = this.types.get(name);
    const out = new RoaringBitmap32();
    if (t === undefined) return out;
    for (const v of values) {
      const vt = typeof v === 'string' ? 'keyword' : typeof v === 'number' ? 'number' : 'boolean';
      if (vt !== t) throw createError('STRATA_INVALID_FILTER', `${path}.${name} compares a ${t} attribute with ${JSON.stringify(v)}`, `${path}.${name}`);
      const part = t === 'number' ? this.numbers.get(name)!.range(v as number, false, v as number, false) : this.keywordBitmap(name, String(v));
      if (!part) continue;
      out.orInPlace(part);
      part.dispose();
    }
    out.andInPlace(universe);
    return out;
  }

  /** The slots holding one keyword value (a new bitmap), or null. */
  private keywordBitmap(name: string, key: string): RoaringBitmap32 | null {
    const k = this.keywords.get(name);
    const i = k?.part.get(key);
    if (!k || i === undefined || k.counts[i] === 0 || !this.store) return null;
    return this.store.bitmap(name, i);
  }

  /**
   * Index `rows[i]` as the attributes of the new slot `slots[i]` (live inserts), writing the bitmaps
   * that change. Every row is checked first, against the attribute types the index already has, so
   * a bad value changes nothing.
   */
  add(rows: ReadonlyArray<Attributes | null | undefined>, slots: number[], field = 'attributes'): void {
    const types = new Map(this.types);
    for (let r = 0; r < rows.length; r++) checkRow(rows[r], r, field, types);
    const store = this.store;
    if (!store) throw createError('STRATA_INDEX_NOT_BUILT', 'attributes can only be added to a built index', field);
    const numberRows = new Map<string, { values: number[]; slots: number[] }>();
    const keywordSlots = new Map<string, Map<string, number[]>>();
    for (let r = 0; r < rows.length; r++) {
      const a = rows[r];
      if (a) collectRow(a, slots[r], numberRows, keywordSlots);
    }
    for (const [name, t] of types) this.types.set(name, t);
    for (const [name, m] of keywordSlots) {
      let k = this.keywords.get(name);
      if (!k) this.keywords.set(name, (k = { keys: [], part: new Map(), counts: new Uint32Array(0) }));
      for (const [key, list] of m) {
        let i = k.part.get(key);
        if (i === undefined) {
          i = k.keys.length;
          k.keys.push(key);
          k.part.set(key, i);
          const counts = new Uint32Array(i + 1);
          counts.set(k.counts);
          k.counts = counts;
        }
        const part = (k.counts[i] > 0 ? store.bitmap(name, i) : null) ?? new RoaringBitmap32();
        part.addMany(list);
        k.counts[i] = part.size;
        store.putBitmap(name, i, compact(part).serialize('portable'));
        part.dispose();
      }
    }
    for (const [name, col] of numberRows) this.addNumbers(name, col.values, col.slots);
  }

  /** New (value, slot) pairs of a number attribute: in place when the layout allows, else rebuilt. */
  private addNumbers(name: string, values: number[], slots: number[]): void {
    const store = this.store!;
    const parts = partsOf(store, name);
    const old = this.numbers.get(name);
    if (old?.add(values, slots)) return;
    const have = old ? old.pairs() : { values: new Float64Array(0), slots: new Uint32Array(0) };
    const oldParts = old?.toRecord().counts ? old.toRecord().counts!.byteLength / 4 : 0;
    const built = buildNumberIndex(Float64Array.from([...have.values, ...values]), Uint32Array.from([...have.slots, ...slots]));
    let newParts = 0;
    for (const [part, bytes] of built.parts) {
      parts.write(part, bytes);
      if (part !== 'all') newParts = Math.max(newParts, part + 1);
    }
    for (let i = newParts; i < oldParts; i++) parts.write(i, null);
    if (oldParts > 0 && !built.record.counts) parts.write('all', null);
    old?.dispose();
    this.numbers.set(name, openNumberIndex(built.record, parts)!);
  }

  /** Forget every slot in `slots` (a deleted tenant), rewriting the bitmaps that held any. */
  removeSlots(slots: RoaringBitmap32): void {
    const store = this.store;
    if (!store) return;
    for (const [name, k] of this.keywords) removeFromParts(partsOf(store, name), k.counts, slots);
    for (const col of this.numbers.values()) col.remove(slots);
  }

  /** Bytes the headers hold in memory (the bitmaps stay in LMDB). */
  memoryBytes(): number {
    let total = 0;
    for (const k of this.keywords.values()) total += k.counts.byteLength + k.keys.reduce((s, key) => s + 2 * key.length + 16, 0);
    for (const col of this.numbers.values()) total += col.memoryBytes();
    return total;
  }

  toRecords(): Array<[string, AttributeRecord]> {
    const out: Array<[string, AttributeRecord]> = [];
    for (const [name, type] of this.types) {
      if (type === 'number') out.push([name, { type, numbers: this.numbers.get(name)!.toRecord() }]);
      else {
        const k = this.keywords.get(name)!;
        out.push([name, { type, keys: k.keys, counts: new Uint8Array(k.counts.buffer.slice(0)) }]);
      }
    }
    return out;
  }

  /** The index over stored headers; bitmaps are read from `store` as filters need them. */
  static open(records: Iterable<[string, AttributeRecord]>, store: BitmapRecords): AttributeIndex {
    const idx = new AttributeIndex(store);
    for (const [name, rec] of records) {
      const bad = () => createError('STRATA_INDEX_CORRUPT', `attribute index "${name}" is damaged`, 'attributes');
      if (!rec || (rec.type !== 'number' && rec.type !== 'keyword' && rec.type !== 'boolean')) throw bad();
      idx.types.set(name, rec.type);
      if (rec.type === 'number') {
        const col = rec.numbers ? openNumberIndex(rec.numbers, partsOf(store, name)) : null;
        if (!col) throw bad();
        idx.numbers.set(name, col);
      } else {
        const keys = rec.keys;
        if (!Array.isArray(keys) || !(rec.counts instanceof Uint8Array) || rec.counts.byteLength !== 4 * keys.length) throw bad();
        const counts = new Uint32Array(keys.length);
        new Uint8Array(counts.buffer).set(rec.counts);
        idx.keywords.set(name, { keys, part: new Map(keys.map((key, i) => [key, i])), counts });
      }
    }
    return idx;
  }

  dispose(): void {
    for (const col of this.numbers.values()) col.dispose();
    this.keywords.clear();
    this.numbers.clear();
  }
}

/** One attribute's bitmaps in the store. */
function partsOf(store: BitmapRecords, name: string): BitmapParts {
  return { read: (part) => store.bitmap(name, part), write: (part, bytes) => store.putBitmap(name, part, bytes) };
}

/** Check one row's attributes against the types seen so far (and record new attributes' types). */
function checkRow(a: Attributes | null | undefined, r: number, field: string, types: Map<string, AttributeType>): void {
  if (a === null || a === undefined) return;
  if (typeof a !== 'object' || Array.isArray(a)) throw createError('STRATA_INVALID_ATTRIBUTE', `${field}[${r}] must be an object of attribute values`, field);
  for (const name of Object.keys(a)) {
    const here = `${field}[${r}].${name}`;
    checkAttributeName(name, here);
    const v = a[name];
    const t = typeOf(v);
    if (!t) throw createError('STRATA_INVALID_ATTRIBUTE', `${here} must be a string, a list of strings, a finite number or a boolean, got ${JSON.stringify(v) ?? String(v)}`, here);
    if (Array.isArray(v)) checkKeywordList(v, here);
    else if (typeof v === 'string' && v.length > MAX_KEYWORD_LENGTH) {
      throw createError('STRATA_INVALID_ATTRIBUTE', `${here} is longer than ${MAX_KEYWORD_LENGTH} characters`, here);
    }
    const seen = types.get(name);
    if (seen && seen !== t) throw createError('STRATA_INVALID_ATTRIBUTE', `${here} is a ${t}, but attribute "${name}" holds ${seen} values`, here);
    types.set(name, t);
  }
}

function checkKeywordList(v: unknown[], here: string): void {
  if (v.length > MAX_KEYWORDS_PER_VALUE) throw createError('STRATA_INVALID_ATTRIBUTE', `${here} lists ${v.length} keywords, at most ${MAX_KEYWORDS_PER_VALUE} are allowed`, here);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'string') throw createError('STRATA_INVALID_ATTRIBUTE', `${here}[${i}] must be a string, got ${JSON.stringify(x) ?? String(x)}`, here);
    if (x.length > MAX_KEYWORD_LENGTH) throw createError('STRATA_INVALID_ATTRIBUTE', `${here}[${i}] is longer than ${MAX_KEYWORD_LENGTH} characters`, here);
  }
}

/** Add one (checked) row's values to the per-attribute slot lists. */
function collectRow(a: Attributes, slot: number, numbers: Map<string, { values: number[]; slots: number[] }>, keywords: Map<string, Map<string, number[]>>): void {
  for (const name of Object.keys(a)) {
    const v = a[name];
    if (typeof v === 'number') {
      let col = numbers.get(name);
      if (!col) numbers.set(name, (col = { values: [], slots: [] }));
      col.values.push(v);
      col.slots.push(slot);
      continue;
    }
    let m = keywords.get(name);
    if (!m) keywords.set(name, (m = new Map()));
    const keys = Array.isArray(v) ? [...new Set(v)] : [String(v)];
    for (let i = 0; i < keys.length; i++) {
      let list = m.get(keys[i]);
      if (!list) m.set(keys[i], (list = []));
      list.push(slot);
    }
  }
}



