/**
 * The records of an index's LMDB environment other than posting lists (posting-store.ts), one
 * narrow interface per kind of record, each implemented over its own databases. IndexStore
 * (index-store.ts) opens the environment and hands these out; the index layer sees only the
 * interfaces, so a record kind can move to another backend without touching its callers.
 *
 *   MetaRecords        the index meta, its version (polled by readers), the coarse cell centres,
 *                      the recall calibration
 *   HeadRecords        head vectors with their source ids, and the head log (heads changed per
 *                      heads version, for patching a saved graph)
 *   SlotMap            slot -> external id, in chunks of SLOT_CHUNK slots
 *   IdMap              external id -> slot of its live vector
 *   TombstoneRecords   bitsets of deleted slots, DEAD_CHUNK slots each
 *   TenantRecords      a tenant's slot runs (read at open) and its details (read when searched)
 *   AttributeRecords   attribute headers and the portable roaring bitmaps of their values
 *   VectorRecords      full-precision vectors by slot (Refine)
 */
import type { Database } from 'lmdb';
import { RoaringBitmap32 } from 'roaring-wasm';
import { createError } from '../errors.js';
import { ownedCopy, type PutScratch } from './lmdb.js';
import type { LmdbValueMap } from './value-map.js';
import type { AttributeRecord, CalibrationRecord, IndexMeta, TenantDetailsRecord, TenantRecord } from './records.js';

/** Slots per slot-map chunk (4 KiB: mapping one result costs one small read). */
export const SLOT_CHUNK = 1024;
/** Slots per tombstone chunk (8 KiB bitset). */
export const DEAD_CHUNK = 65536;
/** The slot map's value for a slot whose vector was deleted. */
const NO_ID = 0xffffffff;

type U32Db = Database<Buffer, number>;

export interface MetaRecords {
  get(): IndexMeta | undefined;
  /** meta.version alone (a small record written with every meta): readers poll it before a search. */
  version(): number | undefined;
  /** The version record's stored bytes (valid until the next read), for comparing snapshots. */
  versionBytes(): Uint8Array | undefined;
  /** Inside a write transaction. */
  put(meta: IndexMeta): void;
  /** Coarse cell centres (count × dim float32). */
  putCells(centers: Float32Array): void;
  readCells(count: number, dim: number): Float32Array;
  /** The recall calibration (index/calibration.ts), or undefined when the index has none. */
  getCalibration(): CalibrationRecord | undefined;
  putCalibration(record: CalibrationRecord): void;
}

export class LmdbMetaRecords implements MetaRecords {
  constructor(private readonly db: Database<IndexMeta | CalibrationRecord | Uint8Array | number, string>) {}

  get(): IndexMeta | undefined {
    const m = this.db.get('meta');
    return m instanceof Uint8Array || typeof m === 'number' ? undefined : (m as IndexMeta | undefined);
  }

  getCalibration(): CalibrationRecord | undefined {
    const c = this.db.get('calibration');
    return c && typeof c === 'object' && 'maxLists' in c ? c : undefined;
  }

  putCalibration(record: CalibrationRecord): void {
    this.db.putSync('calibration', record);
  }

  versionBytes(): Uint8Array | undefined {
    return this.db.getBinaryFast('version');
  }

  version(): number | undefined {
    const v = this.db.get('version');
    return typeof v === 'number' ? v : undefined;
  }

  put(meta: IndexMeta): void {
    this.db.putSync('meta', meta);
    this.db.putSync('version', meta.version);
  }

  putCells(centers: Float32Array): void {
    this.db.putSync('cells', new Uint8Array(centers.buffer, centers.byteOffset, centers.byteLength).slice());
  }

  readCells(count: number, dim: number): Float32Array {
    const b = this.db.get('cells');
    if (!(b instanceof Uint8Array) || b.byteLength !== count * dim * 4) throw createError('STRATA_INDEX_CORRUPT', `coarse cell centres are missing or have the wrong size`, 'cells');
    const out = new Float32Array(count * dim);
    new Uint8Array(out.buffer).set(b);
    return out;
  }
}

export interface HeadRecords {
  put(head: number, sourceId: number, vector: Float32Array): void;
  /** Copy head h's vector into out[off..off+dim) (and its source id into ids[h]); false if there is no head h. */
  get(head: number, dim: number, out: Float32Array, off: number, ids?: Uint32Array): boolean;
  has(head: number): boolean;
  /** The head record only: its posting list and appends are the posting store's. */
  delete(head: number): void;
  /** Every head number that exists, ascending. */
  numbers(): number[];
  /** Head vectors and source ids by head number; `live[h]` = 0 for numbers without a head (merged). */
  readAll(count: number, dim: number): { vectors: Float32Array; sourceIds: Uint32Array; live: Uint8Array };
  /** Heads changed by the commit that made heads version v, or undefined once the log dropped it. */
  log(version: number): Uint32Array | undefined;
  putLog(version: number, heads: Uint32Array): void;
  /** Drop log entries of versions <= v (a graph saved at v no longer needs them). */
  trimLog(version: number): void;
}

/** The database of head vectors. */
export const HEADS_DB = 'heads';

export class LmdbHeadRecords implements HeadRecords {
  constructor(
    private readonly heads: U32Db,
    private readonly headLog: U32Db,
    private readonly scratch: PutScratch,
    /** Zero-copy reads during a search (residual lists read their head per list); null without the addon. */
    private readonly map: LmdbValueMap | null = null,
  ) {}

  put(head: number, sourceId: number, vector: Float32Array): void {
    const buf = Buffer.allocUnsafe(4 + vector.byteLength);
    buf.writeUInt32LE(sourceId, 0);
    Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(buf, 4);
    this.heads.putSync(head, buf);
  }

  get(h: number, dim: number, out: Float32Array, off: number, ids?: Uint32Array): boolean {
    const v = this.map ? this.map.view(HEADS_DB, h) : null;
    const b = v === null ? this.heads.getBinaryFast(h) : v;
    if (!b) return false;
    if (b.length !== 4 + 4 * dim) throw createError('STRATA_INDEX_CORRUPT', `head ${h} has ${b.length} bytes, expected ${4 + 4 * dim}`, 'heads');
    if (ids) ids[h] = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
    new Uint8Array(out.buffer, out.byteOffset + off * 4, dim * 4).set(b.subarray(4, 4 + dim * 4));
    return true;
  }

  has(h: number): boolean {
    return this.heads.doesExist(h);
  }

  delete(h: number): void {
    this.heads.removeSync(h);
  }

  numbers(): number[] {
    return [...this.heads.getKeys()];
  }

  readAll(count: number, dim: number): { vectors: Float32Array; sourceIds: Uint32Array; live: Uint8Array } {
    const vectors = new Float32Array(count * dim);
    const sourceIds = new Uint32Array(count);
    const live = new Uint8Array(count);
    for (const h of this.heads.getKeys()) {
      if (h >= count) throw createError('STRATA_INDEX_CORRUPT', `head ${h} is beyond the head count ${count}`, 'heads');
      this.get(h, dim, vectors, h * dim, sourceIds);
      live[h] = 1;
    }
    return { vectors, sourceIds, live };
  }

  log(v: number): Uint32Array | undefined {
    const b = this.headLog.getBinaryFast(v);
    if (!b) return undefined;
    const out = new Uint32Array(b.length >>> 2);
    new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
    return out;
  }

  putLog(v: number, heads: Uint32Array): void {
    this.headLog.putSync(v, this.scratch.copy(heads));
  }

  trimLog(v: number): void {
    for (const key of this.headLog.getKeys({ end: v + 1 })) this.headLog.removeSync(key);
  }
}

export interface SlotMap {
  /** Write the external ids of slots [start, start + ids.length); partly covered chunks are patched. */
  putIds(ids: Uint32Array, start?: number): void;
  /** External id of one slot (NO_ID = 0xFFFFFFFF when deleted). */
  idOf(slot: number): number;
  /** Mark single slots deleted, one rewrite per chunk touched. */
  clear(slots: ArrayLike<number>): void;
  /** Mark slots [start, end) deleted. */
  clearRange(start: number, end: number): void;
}

export class LmdbSlotMap implements SlotMap {
  constructor(private readonly db: U32Db) {}

  putIds(ids: Uint32Array, start = 0): void {
    const end = start + ids.length;
    for (let c = Math.floor(start / SLOT_CHUNK); c * SLOT_CHUNK < end; c++) {
      const lo = Math.max(start, c * SLOT_CHUNK), hi = Math.min(end, (c + 1) * SLOT_CHUNK);
      const old = this.db.getBinaryFast(c);
      const oldLen = old ? old.length >>> 2 : 0;
      const len = Math.max(oldLen, hi - c * SLOT_CHUNK);
      const chunk = new Uint32Array(len).fill(NO_ID);
      if (old) new Uint8Array(chunk.buffer).set(old.subarray(0, oldLen * 4));
      chunk.set(ids.subarray(lo - start, hi - start), lo - c * SLOT_CHUNK);
      this.db.putSync(c, Buffer.from(chunk.buffer));
    }
  }

  idOf(slot: number): number {
    const c = Math.floor(slot / SLOT_CHUNK);
    const b = this.db.getBinaryFast(c);
    const at = (slot - c * SLOT_CHUNK) * 4;
    if (!b || b.length < at + 4) throw createError('STRATA_INDEX_CORRUPT', `slot map chunk ${c} is missing or too short for slot ${slot}`, 'slots');
    return b.readUInt32LE(at);
  }

  clear(slots: ArrayLike<number>): void {
    const byChunk = new Map<number, number[]>();
    for (let i = 0; i < slots.length; i++) {
      const c = Math.floor(slots[i] / SLOT_CHUNK);
      let list = byChunk.get(c);
      if (!list) byChunk.set(c, (list = []));
      list.push(slots[i] - c * SLOT_CHUNK);
    }
    for (const [c, offsets] of byChunk) this.rewrite(c, (ids) => { for (const o of offsets) if (o < ids.length) ids[o] = NO_ID; });
  }

  clearRange(start: number, end: number): void {
    for (let c = Math.floor(start / SLOT_CHUNK); c * SLOT_CHUNK < end; c++) {
      this.rewrite(c, (ids) => ids.fill(NO_ID, Math.max(0, start - c * SLOT_CHUNK), Math.min(ids.length, end - c * SLOT_CHUNK)));
    }
  }

  private rewrite(c: number, edit: (ids: Uint32Array) => void): void {
    const chunk = ownedCopy(this.db.getBinaryFast(c));
    if (!chunk) return;
    edit(new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.byteLength >>> 2));
    this.db.putSync(c, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
}

export interface IdMap {
  /** The slot of a live external id, or undefined. */
  slotOf(id: number): number | undefined;
  put(id: number, slot: number): void;
  delete(id: number): void;
  /** Every (external id, slot) pair, by id (the invariant checker walks it). */
  forEach(fn: (id: number, slot: number) => void): void;
}

export class LmdbIdMap implements IdMap {
  constructor(private readonly db: U32Db) {}

  slotOf(id: number): number | undefined {
    const b = this.db.getBinaryFast(id);
    return b && b.length === 4 ? b.readUInt32LE(0) : undefined;
  }

  put(id: number, slot: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(slot, 0);
    this.db.putSync(id, b);
  }

  delete(id: number): void {
    this.db.removeSync(id);
  }

  forEach(fn: (id: number, slot: number) => void): void {
    for (const { key, value } of this.db.getRange()) fn(key, value.readUInt32LE(0));
  }
}

export interface TombstoneRecords {
  /** Chunk c (a bitset of DEAD_CHUNK slots) as an owned copy, or undefined. */
  get(chunk: number): Uint32Array | undefined;
  put(chunk: number, bits: Uint32Array): void;
}

export class LmdbTombstoneRecords implements TombstoneRecords {
  constructor(
    private readonly db: U32Db,
    private readonly scratch: PutScratch,
  ) {}

  get(c: number): Uint32Array | undefined {
    const b = this.db.getBinaryFast(c);
    if (!b) return undefined;
    if (b.length !== DEAD_CHUNK / 8) throw createError('STRATA_INDEX_CORRUPT', `tombstone chunk ${c} has ${b.length} bytes`, 'dead');
    const out = new Uint32Array(DEAD_CHUNK / 32);
    new Uint8Array(out.buffer).set(b.subarray(0, b.length));
    return out;
  }

  put(c: number, bits: Uint32Array): void {
    this.db.putSync(c, this.scratch.copy(bits));
  }
}

export interface TenantRecords {
  put(name: string, rec: TenantRecord, details: TenantDetailsRecord): void;
  details(name: string): TenantDetailsRecord | undefined;
  delete(name: string): void;
  /** Visit every tenant record in name order (one at a time: records are not all held at once). */
  forEach(fn: (name: string, rec: TenantRecord) => void): void;
}

export class LmdbTenantRecords implements TenantRecords {
  constructor(
    private readonly tenants: Database<TenantRecord, string>,
    private readonly tenantDetails: Database<TenantDetailsRecord, string>,
  ) {}

  put(name: string, rec: TenantRecord, details: TenantDetailsRecord): void {
    this.tenants.putSync(name, rec);
    this.tenantDetails.putSync(name, details);
  }

  details(name: string): TenantDetailsRecord | undefined {
    return this.tenantDetails.get(name);
  }

  delete(name: string): void {
    this.tenants.removeSync(name);
    this.tenantDetails.removeSync(name);
  }

  forEach(fn: (name: string, rec: TenantRecord) => void): void {
    for (const { key, value } of this.tenants.getRange()) fn(key, value);
  }
}

export interface AttributeRecords {
  put(name: string, rec: AttributeRecord): void;
  readAll(): Array<[string, AttributeRecord]>;
  /** One part of an attribute's index (value number, or 'all') as a new bitmap the caller disposes, or null. */
  bitmap(name: string, part: number | 'all'): RoaringBitmap32 | null;
  /** Store (or, with null, delete) one part of an attribute's index (portable roaring bytes). */
  putBitmap(name: string, part: number | 'all', bytes: Uint8Array | null): void;
}

export class LmdbAttributeRecords implements AttributeRecords {
  constructor(
    private readonly attrs: Database<AttributeRecord, string>,
    private readonly bitmaps: Database<Buffer, string>,
  ) {}

  put(name: string, rec: AttributeRecord): void {
    this.attrs.putSync(name, rec);
  }

  readAll(): Array<[string, AttributeRecord]> {
    return [...this.attrs.getRange()].map(({ key, value }) => [key, value]);
  }

  bitmap(name: string, part: number | 'all'): RoaringBitmap32 | null {
    const b = this.bitmaps.getBinaryFast(`${name}\u0000${part}`);
    if (!b) return null;
    try {
      return RoaringBitmap32.deserialize('portable', b.subarray(0, b.length));
    } catch {
      throw createError('STRATA_INDEX_CORRUPT', `attribute bitmap ${JSON.stringify(name)}/${part} is damaged`, 'attrBitmaps');
    }
  }

  putBitmap(name: string, part: number | 'all', bytes: Uint8Array | null): void {
    const key = `${name}\u0000${part}`;
    if (bytes) this.bitmaps.putSync(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    else this.bitmaps.removeSync(key);
  }
}

/** The database of full-precision vectors. */
export const VECTORS_DB = 'vectors';

export interface VectorRecords {
  put(slot: number, vector: Float32Array): void;
  /** A hint that the vectors of slots[0..count) are about to be read (posting-store willNeed). */
  willNeed(slots: Uint32Array, count: number): void;
  delete(slot: number): void;
  /** Bytes of a slot's full-precision vector, valid until the next read on the store. */
  getFast(slot: number): Uint8Array | undefined;
}

export class LmdbVectorRecords implements VectorRecords {
  constructor(
    private readonly db: U32Db,
    private readonly scratch: PutScratch,
    private readonly map: LmdbValueMap | null,
  ) {}

  put(slot: number, vector: Float32Array): void {
    this.db.putSync(slot, this.scratch.copy(vector));
  }

  willNeed(slots: Uint32Array, count: number): void {
    this.map?.willNeed(VECTORS_DB, slots, count);
  }

  delete(slot: number): void {
    this.db.removeSync(slot);
  }

  getFast(slot: number): Uint8Array | undefined {
    const v = this.map ? this.map.view(VECTORS_DB, slot) : null;
    return v === null ? this.db.getBinaryFast(slot) : v;
  }
}
