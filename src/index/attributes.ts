/**
 * Attribute indexes: per keyword (and boolean) value, a roaring bitmap of the slots that hold it; per
 * number attribute, a NumberIndex (one bitmap per distinct value, or value-sorted pairs). A
 * filter (filter.ts) evaluates to a roaring bitmap of slots, whose cardinality the planner reads
 * before any vector is touched.
 *
 * Attribute names and types are index-wide: the first value seen fixes an attribute's type, and a
 * value of another type is a coded error naming the row and the attribute.
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import { createError } from '../errors.js';
import { type Attributes, type FilterNode, type Scalar, checkAttributeName } from './filter.js';
import { compact } from './bitmaps.js';
import { type NumberIndex, type NumberRecord, buildNumberIndex, restoreNumberIndex } from './number-index.js';

export type AttributeType = 'keyword' | 'number' | 'boolean';

/** Most values one keyword attribute of one vector may list. */
export const MAX_KEYWORDS_PER_VALUE = 1024;
/** Longest keyword, in characters. */
export const MAX_KEYWORD_LENGTH = 1024;


/** The persisted form of one attribute (LMDB `attrs` db, msgpack). */
export interface AttributeRecord {
  type: AttributeType;
  /** keyword/boolean: values and their portable-serialised bitmaps, in the same order. */
  keys?: string[];
  bitmaps?: Uint8Array[];
  /** number: the number index (number-index.ts). */
  numbers?: NumberRecord;
}

function typeOf(v: unknown): AttributeType | null {
  if (typeof v === 'string') return 'keyword';
  if (Array.isArray(v)) return 'keyword';
  if (typeof v === 'number') return Number.isFinite(v) ? 'number' : null;
  if (typeof v === 'boolean') return 'boolean';
  return null;
}

export class AttributeIndex {
  private readonly types = new Map<string, AttributeType>();
  /** keyword and boolean attributes: value ('true'/'false' for booleans) -> slots. */
  private readonly keywords = new Map<string, Map<string, RoaringBitmap32>>();
  private readonly numbers = new Map<string, NumberIndex>();

  get names(): string[] {
    return [...this.types.keys()].sort();
  }

  type(name: string): AttributeType | undefined {
    return this.types.get(name);
  }

  /**
   * Index `rows[r]` as the attributes of slot `slotOf[r]`. Every row is checked before anything is
   * indexed, so a bad value leaves the index unchanged.
   */
  // Kept as a loop over small helpers: Node 20's TurboFan crashed the process (SIGSEGV, gone with
  // --no-turbo-inlining) when it optimised an earlier version with all of this in one function.
  static build(rows: ReadonlyArray<Attributes | null | undefined>, slotOf: Uint32Array, field = 'attributes'): AttributeIndex {
    const idx = new AttributeIndex();
    for (let r = 0; r < rows.length; r++) checkRow(rows[r], r, field, idx.types);
    return idx.fill(rows, slotOf);
  }

  /** Check every row (types, names, lengths) without indexing anything. */
  static check(rows: ReadonlyArray<Attributes | null | undefined>, field = 'attributes'): void {
    const types = new Map<string, AttributeType>();
    for (let r = 0; r < rows.length; r++) checkRow(rows[r], r, field, types);
  }

  /** Index checked rows (the types are already known). */
  private fill(rows: ReadonlyArray<Attributes | null | undefined>, slotOf: Uint32Array): AttributeIndex {
    const numberRows = new Map<string, { values: number[]; slots: number[] }>();
    const keywordSlots = new Map<string, Map<string, number[]>>();
    for (let r = 0; r < rows.length; r++) {
      const a = rows[r];
      if (a) collectRow(a, slotOf[r], numberRows, keywordSlots);
    }
    for (const [name, m] of keywordSlots) {
      const out = new Map<string, RoaringBitmap32>();
      for (const [key, slots] of m) out.set(key, compact(RoaringBitmap32.from(Uint32Array.from(slots))));
      this.keywords.set(name, out);
    }
    for (const [name, col] of numberRows) this.numbers.set(name, buildNumberIndex(Float64Array.from(col.values), Uint32Array.from(col.slots)));
    return this;
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
      if (t === 'number') {
        const part = this.numbers.get(name)!.range(v as number, false, v as number, false);
        out.orInPlace(part);
        part.dispose();
      } else {
        const b = this.keywords.get(name)?.get(String(v));
        if (b) out.orInPlace(b);
      }
    }
    out.andInPlace(universe);
    return out;
  }

  /** Forget every slot in `slots` (a deleted tenant). */
  removeSlots(slots: RoaringBitmap32): void {
    for (const m of this.keywords.values()) {
      for (const [key, b] of m) {
        b.andNotInPlace(slots);
        if (b.size === 0) {
          b.dispose();
          m.delete(key);
        }
      }
    }
    for (const [name, col] of this.numbers) {
      this.numbers.set(name, col.without(slots));
      col.dispose();
    }
  }

  /** Bytes the indexes hold in memory (bitmaps and number columns). */
  memoryBytes(): number {
    let total = 0;
    for (const m of this.keywords.values()) for (const b of m.values()) total += b.getSerializationSizeInBytes('croaring');
    for (const col of this.numbers.values()) total += col.memoryBytes();
    return total;
  }

  toRecords(): Array<[string, AttributeRecord]> {
    const out: Array<[string, AttributeRecord]> = [];
    for (const [name, type] of this.types) {
      if (type === 'number') {
        out.push([name, { type, numbers: this.numbers.get(name)!.toRecord() }]);
      } else {
        const m = this.keywords.get(name) ?? new Map<string, RoaringBitmap32>();
        const keys = [...m.keys()];
        out.push([name, { type, keys, bitmaps: keys.map((k) => m.get(k)!.serialize('portable')) }]);
      }
    }
    return out;
  }

  static fromRecords(records: Iterable<[string, AttributeRecord]>): AttributeIndex {
    const idx = new AttributeIndex();
    for (const [name, rec] of records) {
      const bad = () => createError('STRATA_INDEX_CORRUPT', `attribute index "${name}" is damaged`, 'attributes');
      idx.types.set(name, rec.type);
      if (rec.type === 'number') {
        const col = rec.numbers ? restoreNumberIndex(rec.numbers) : null;
        if (!col) throw bad();
        idx.numbers.set(name, col);
      } else {
        if (!rec.keys || !rec.bitmaps || rec.keys.length !== rec.bitmaps.length) throw bad();
        const m = new Map<string, RoaringBitmap32>();
        rec.keys.forEach((k, i) => m.set(k, RoaringBitmap32.deserialize('portable', rec.bitmaps![i])));
        idx.keywords.set(name, m);
      }
    }
    return idx;
  }

  dispose(): void {
    for (const m of this.keywords.values()) for (const b of m.values()) b.dispose();
    for (const col of this.numbers.values()) col.dispose();
    this.keywords.clear();
    this.numbers.clear();
  }
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



