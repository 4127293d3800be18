/**
 * The LMDB environment of one index directory: metadata, head vectors and posting lists.
 *
 *   <dir>/strata.mdb      LMDB environment (this file) — the source of truth
 *     meta      'meta' -> IndexMeta (msgpack); 'version' -> meta.version (polled by readers);
 *               'cells' -> coarse cell centres (f32 bytes)
 *     heads     u32 head number -> [u32 source id][f32 vector]
 *     postings  u32 head number -> posting list (posting-format.ts); entries are slots, ascending
 *     blocks    u32 block number -> the vectors of slots [B b, B b + B) once each, in the
 *               posting-list format and codec (exact scans of a tenant or of a filter's matches);
 *               B = meta.blockSlots, chosen so a block is about 32 KiB (at least 4 slots)
 *     slots     u32 chunk number -> u32 external id of slots [1024 c, 1024 c + 1024)
 *     tenants   tenant name -> { runs (u32 slot runs), cellCount } (msgpack; all read at open)
 *     tenantDetails  tenant name -> { heads (portable roaring), cells (u32 ids + starts) }, read
 *               when the tenant is searched
 *     attrs     attribute name -> attribute header (attributes.ts, msgpack; read at open)
 *     attrBitmaps  "<attribute>\0<part>" -> portable roaring bitmap of one value's slots, read
 *               when a filter needs it (part: value number, or 'all')
 *     vectors   u32 slot -> f32 vector (only with Refine: full precision for re-ranking)
 *     appends   u32 head number -> entries inserted into that list since it was last rewritten (same
 *               format, slots above every slot of the list's `postings` value): an insert rewrites
 *               this small record, not the whole list; the writer folds it in past a size
 *     ids       u32 external id -> u32 slot of its live vector (deletes and upserts find it here)
 *     dead      u32 chunk -> bitset of deleted slots [65536 c, 65536 c + 65536) (tombstones: their
 *               entries may remain in lists and blocks until a compaction removes them)
 *     headLog   u32 heads version -> u32 heads changed by that commit (split, merge): a graph file
 *               saved at an older version is patched by replaying the log
 *
 * A slot is the internal, dense number of a vector (0..count-1 after a build, a tenant's vectors
 * consecutive); external ids are the caller's.
 *   <dir>/heads.hnsw      hnswlib graph over the heads, derivable from `heads`
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RootDatabase, Database } from 'lmdb';
import { openEnvironment, ownedCopy } from './lmdb.js';
import { LmdbPostingStore, type PostingStore } from './posting-store.js';
import { createError } from '../errors.js';
import type { AttributeRecord, CodecState, IndexOptions, PcaState, TenantDetailsRecord, TenantRecord } from './records.js';
import { RoaringBitmap32 } from 'roaring-wasm';

/**
 * Bumped on any change to the layout above; checked at open. (2: codec-aware posting header, vectors
 * db. 3: slots in postings, blocks, slots, tenants and attrs dbs. 4: tenants as slot runs with their
 * details apart, attribute bitmaps one record per value. 5: live updates — ids, dead and headLog
 * dbs, head numbers may have gaps, a version file beside the graph.)
 */
export const FORMAT_VERSION = 7;
/**
 * Bytes a block record aims at. lmdb-js copies every value under 16 MiB into one reused buffer on
 * read, so a block should be small enough that reading it for one row is cheap, and large enough
 * that a tenant's scan is not dominated by per-get overhead.
 */
export const BLOCK_TARGET_BYTES = 32 * 1024;

/** Slots per block for entries of `entryBytes`: a power of two in [4, 1024] near BLOCK_TARGET_BYTES. */
export function blockSlotsFor(entryBytes: number): number {
  const fit = Math.max(1, Math.floor(BLOCK_TARGET_BYTES / entryBytes));
  return Math.min(1024, Math.max(4, 2 ** Math.floor(Math.log2(fit))));
}
/** Slots per slot-map chunk (4 KiB: mapping one result costs one small read). */
export const SLOT_CHUNK = 1024;
/** Slots per tombstone chunk (8 KiB bitset). */
export const DEAD_CHUNK = 65536;
export const LMDB_FILE = 'strata.mdb';
export const GRAPH_FILE = 'heads.hnsw';
/** Beside the graph: the heads version (meta.headsVersion) the saved graph reflects. */
export const GRAPH_VERSION_FILE = 'heads.hnsw.version';

export interface IndexMeta {
  formatVersion: number;
  /** The index spec string, canonical form (spec.ts); 'SPANN' = float32 posting lists. */
  spec: string;
  /** The posting-list codec with its trained state. */
  codec: CodecState;
  /** PCA applied to posting-list payloads, when the spec has a PCA stage. */
  pca?: PcaState;
  options: IndexOptions;
  /** 'empty' until a build commits, then 'built'. */
  state: 'empty' | 'built';
  /** Live vectors. */
  count: number;
  /** Head numbers ever allocated (the graph's label space; merged heads leave gaps). */
  headCount: number;
  /** Heads that exist (headCount minus merged ones). */
  liveHeads: number;
  postingLimit: number;
  /** Posting entries summed over lists (>= count: vectors are replicated). */
  postingEntries: number;
  longestList: number;
  buildSeconds: number;
  /** Slots ever allocated (>= count once vectors are deleted). */
  slotCount: number;
  /** Slots per block record (blockSlotsFor the entry size). */
  blockSlots: number;
  /** Coarse cells (cells.ts); their centres are the meta db's 'cells' record. */
  cellCount: number;
  createdAt: string;
  /** Committed write batches since creation (a build counts as one). */
  version: number;
  /** Commits that changed heads (splits, merges); headLog holds each one's heads. */
  headsVersion: number;
  /** Deleted slots whose entries may still sit in posting lists and blocks (0 after compaction). */
  tombstones: number;
}

export interface StoreOpenOptions {
  readOnly?: boolean;
  create?: boolean;
  /** Where posting lists live (posting-store.ts). Default: the environment's own databases. */
  postings?: PostingStore;
}

export class IndexStore {
  readonly dir: string;
  readonly path: string;
  private readonly root: RootDatabase;
  /** 'meta' -> IndexMeta, 'cells' -> coarse cell centres (bytes). */
  private readonly meta: Database<IndexMeta | Uint8Array | number, string>;
  private readonly heads: Database<Buffer, number>;
  private readonly postings: Database<Buffer, number>;
  private readonly vectors: Database<Buffer, number>;
  private readonly blocks: Database<Buffer, number>;
  private readonly slots: Database<Buffer, number>;
  private readonly tenants: Database<TenantRecord, string>;
  private readonly tenantDetails: Database<TenantDetailsRecord, string>;
  private readonly attrs: Database<AttributeRecord, string>;
  private readonly attrBitmaps: Database<Buffer, string>;
  private readonly ids: Database<Buffer, number>;
  private readonly appends: Database<Buffer, number>;
  /** The posting lists and their appends, behind the posting-store interface. */
  readonly lists: PostingStore;
  private readonly dead: Database<Buffer, number>;
  private readonly headLog: Database<Buffer, number>;
  private closed = false;

  private constructor(
    dir: string,
    root: RootDatabase,
    /** Opened read-only: nothing may be written through it. */
    readonly readOnly: boolean,
    postings?: PostingStore,
  ) {
    this.dir = dir;
    this.path = join(dir, LMDB_FILE);
    this.root = root;
    this.meta = root.openDB<IndexMeta | Uint8Array | number, string>({ name: 'meta' });
    this.heads = root.openDB<Buffer, number>({ name: 'heads', keyEncoding: 'uint32', encoding: 'binary' });
    this.postings = root.openDB<Buffer, number>({ name: 'postings', keyEncoding: 'uint32', encoding: 'binary' });
    this.vectors = root.openDB<Buffer, number>({ name: 'vectors', keyEncoding: 'uint32', encoding: 'binary' });
    this.blocks = root.openDB<Buffer, number>({ name: 'blocks', keyEncoding: 'uint32', encoding: 'binary' });
    this.slots = root.openDB<Buffer, number>({ name: 'slots', keyEncoding: 'uint32', encoding: 'binary' });
    this.tenants = root.openDB<TenantRecord, string>({ name: 'tenants' });
    this.tenantDetails = root.openDB<TenantDetailsRecord, string>({ name: 'tenantDetails' });
    this.attrs = root.openDB<AttributeRecord, string>({ name: 'attrs' });
    this.attrBitmaps = root.openDB<Buffer, string>({ name: 'attrBitmaps', encoding: 'binary' });
    this.ids = root.openDB<Buffer, number>({ name: 'ids', keyEncoding: 'uint32', encoding: 'binary' });
    this.appends = root.openDB<Buffer, number>({ name: 'appends', keyEncoding: 'uint32', encoding: 'binary' });
    this.lists = postings ?? new LmdbPostingStore({ list: this.postings, appends: this.appends, block: this.blocks }, (v) => this.putValue(v));
    this.dead = root.openDB<Buffer, number>({ name: 'dead', keyEncoding: 'uint32', encoding: 'binary' });
    this.headLog = root.openDB<Buffer, number>({ name: 'headLog', keyEncoding: 'uint32', encoding: 'binary' });
  }

  static open(dir: string, options: StoreOpenOptions = {}): IndexStore {
    const path = join(dir, LMDB_FILE);
    if (!existsSync(path)) {
      if (!options.create) throw createError('STRATA_INDEX_NOT_FOUND', `no index at ${JSON.stringify(dir)} (missing ${LMDB_FILE})`, 'dir');
      mkdirSync(dir, { recursive: true });
    }
    return new IndexStore(dir, openEnvironment(path, { store: 'index', readOnly: options.readOnly, create: options.create, maxDbs: 16, noMemInit: true }), options.readOnly ?? false, options.postings);
  }

  /** Coarse cell centres (count × dim float32), in the meta db. */
  putCells(centers: Float32Array): void {
    this.meta.putSync('cells', new Uint8Array(centers.buffer, centers.byteOffset, centers.byteLength).slice());
  }

  readCells(count: number, dim: number): Float32Array {
    const b = this.meta.get('cells');
    if (!(b instanceof Uint8Array) || b.byteLength !== count * dim * 4) throw createError('STRATA_INDEX_CORRUPT', `coarse cell centres are missing or have the wrong size`, 'cells');
    const out = new Float32Array(count * dim);
    new Uint8Array(out.buffer).set(b);
    return out;
  }

  getMeta(): IndexMeta | undefined {
    const m = this.meta.get('meta');
    return m instanceof Uint8Array || typeof m === 'number' ? undefined : m;
  }

  /**
   * meta.version alone ('version' key, written with every meta): readers poll it before each search
   * and decode the whole meta only when it moved. Undefined for an index written before it existed.
   */
  getMetaVersion(): number | undefined {
    const v = this.meta.get('version');
    return typeof v === 'number' ? v : undefined;
  }

  /** Put inside a write transaction (see `write`). */
  putMeta(meta: IndexMeta): void {
    this.meta.putSync('meta', meta);
    this.meta.putSync('version', meta.version);
  }

  putHead(head: number, sourceId: number, vector: Float32Array): void {
    const buf = Buffer.allocUnsafe(4 + vector.byteLength);
    buf.writeUInt32LE(sourceId, 0);
    Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(buf, 4);
    this.heads.putSync(head, buf);
  }

  /** Head vectors and source ids by head number; `live[h]` = 0 for numbers without a head (merged). */
  readHeads(count: number, dim: number): { vectors: Float32Array; sourceIds: Uint32Array; live: Uint8Array } {
    const vectors = new Float32Array(count * dim);
    const sourceIds = new Uint32Array(count);
    const live = new Uint8Array(count);
    for (const h of this.heads.getKeys()) {
      if (h >= count) throw createError('STRATA_INDEX_CORRUPT', `head ${h} is beyond the head count ${count}`, 'heads');
      this.getHead(h, dim, vectors, h * dim, sourceIds);
      live[h] = 1;
    }
    return { vectors, sourceIds, live };
  }

  /** Copy head h's vector into out[off..off+dim) (and its source id into ids[h]); false if there is no head h. */
  getHead(h: number, dim: number, out: Float32Array, off: number, ids?: Uint32Array): boolean {
    const b = this.heads.getBinaryFast(h);
    if (!b) return false;
    if (b.length !== 4 + 4 * dim) throw createError('STRATA_INDEX_CORRUPT', `head ${h} has ${b.length} bytes, expected ${4 + 4 * dim}`, 'heads');
    if (ids) ids[h] = b.readUInt32LE(0);
    new Uint8Array(out.buffer, out.byteOffset + off * 4, dim * 4).set(b.subarray(4, 4 + dim * 4));
    return true;
  }

  hasHead(h: number): boolean {
    return this.heads.doesExist(h);
  }

  deleteHead(h: number): void {
    this.heads.removeSync(h);
    this.lists.delete('list', h);
    this.lists.delete('appends', h);
  }

  /** A list's appended entries, as a view valid until the next read, or undefined. */
  getAppendsFast(head: number): Uint8Array | undefined {
    return this.lists.get('appends', head, true);
  }

  getAppendsCopy(head: number): Uint8Array | undefined {
    return this.lists.get('appends', head);
  }

  /** Store (or, with null, remove) a list's appended entries. */
  putAppends(head: number, value: Uint8Array | null): void {
    if (value) this.lists.put('appends', head, value);
    else this.lists.delete('appends', head);
  }

  /** Entries in a list's `postings` value (its header), 0 when there is none. */
  postingCount(head: number): number {
    const b = this.lists.get('list', head, true);
    return b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : 0;
  }

  /** Every head number that exists, ascending. */
  headNumbers(): number[] {
    return [...this.heads.getKeys()];
  }

  putPosting(head: number, value: Uint8Array): void {
    this.lists.put('list', head, value);
  }

  /** Bytes lmdb-js may be handed: a Buffer over the same memory, or a scratch copy of shared memory. */
  private putValue(value: Uint8Array): Buffer {
    return value.buffer instanceof SharedArrayBuffer ? this.copyToScratch(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }

  /**
   * A posting value in lmdb-js's reused read buffer (values under 16 MiB are memcpy'd there, with no
   * allocation): the bytes are only valid until the next read on this
   * store, so scan them before reading another list.
   */
  getPostingFast(head: number): Uint8Array | undefined {
    return this.lists.get('list', head, true);
  }

  /** A posting value as an owned copy (for rewriting a list). */
  getPostingCopy(head: number): Uint8Array | undefined {
    return this.lists.get('list', head);
  }

  putBlock(block: number, value: Uint8Array): void {
    this.lists.put('block', block, value);
  }

  /** A block value in the reused read buffer; valid until the next read on this store. */
  getBlockFast(block: number): Uint8Array | undefined {
    return this.lists.get('block', block, true);
  }

  getBlockCopy(block: number): Uint8Array | undefined {
    return this.lists.get('block', block);
  }

  deleteBlock(block: number): void {
    this.lists.delete('block', block);
  }

  /**
   * Write the external ids of slots [start, start + ids.length) into the slot map; chunks that are
   * only partly covered are read, patched and rewritten.
   */
  putSlotIds(ids: Uint32Array, start = 0): void {
    const end = start + ids.length;
    for (let c = Math.floor(start / SLOT_CHUNK); c * SLOT_CHUNK < end; c++) {
      const lo = Math.max(start, c * SLOT_CHUNK), hi = Math.min(end, (c + 1) * SLOT_CHUNK);
      const old = this.slots.getBinaryFast(c);
      const oldLen = old ? old.length >>> 2 : 0;
      const len = Math.max(oldLen, hi - c * SLOT_CHUNK);
      const chunk = new Uint32Array(len).fill(0xffffffff);
      if (old) new Uint8Array(chunk.buffer).set(old.subarray(0, oldLen * 4));
      chunk.set(ids.subarray(lo - start, hi - start), lo - c * SLOT_CHUNK);
      this.slots.putSync(c, Buffer.from(chunk.buffer));
    }
  }

  /** Mark single slots deleted (0xFFFFFFFF) in the slot map, one rewrite per chunk touched. */
  clearSlots(slots: ArrayLike<number>): void {
    const byChunk = new Map<number, number[]>();
    for (let i = 0; i < slots.length; i++) {
      const c = Math.floor(slots[i] / SLOT_CHUNK);
      let list = byChunk.get(c);
      if (!list) byChunk.set(c, (list = []));
      list.push(slots[i] - c * SLOT_CHUNK);
    }
    for (const [c, offsets] of byChunk) {
      const chunk = ownedCopy(this.slots.getBinaryFast(c));
      if (!chunk) continue;
      const ids = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.byteLength >>> 2);
      for (const o of offsets) if (o < ids.length) ids[o] = 0xffffffff;
      this.slots.putSync(c, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  }

  /** External id of one slot (NO_ID when deleted); read from its 4 KiB chunk. */
  slotId(slot: number): number {
    const c = Math.floor(slot / SLOT_CHUNK);
    const b = this.slots.getBinaryFast(c);
    const at = (slot - c * SLOT_CHUNK) * 4;
    if (!b || b.length < at + 4) throw createError('STRATA_INDEX_CORRUPT', `slot map chunk ${c} is missing or too short for slot ${slot}`, 'slots');
    return b.readUInt32LE(at);
  }

  /** Mark slots [start, end) deleted (0xFFFFFFFF) in the slot map. */
  clearSlotIds(start: number, end: number): void {
    for (let c = Math.floor(start / SLOT_CHUNK); c * SLOT_CHUNK < end; c++) {
      const chunk = ownedCopy(this.slots.getBinaryFast(c));
      if (!chunk) continue;
      const ids = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.byteLength / 4);
      ids.fill(0xffffffff, Math.max(0, start - c * SLOT_CHUNK), Math.min(ids.length, end - c * SLOT_CHUNK));
      this.slots.putSync(c, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  }

  putTenant(name: string, rec: TenantRecord, details: TenantDetailsRecord): void {
    this.tenants.putSync(name, rec);
    this.tenantDetails.putSync(name, details);
  }

  getTenantDetails(name: string): TenantDetailsRecord | undefined {
    return this.tenantDetails.get(name);
  }

  deleteTenant(name: string): void {
    this.tenants.removeSync(name);
    this.tenantDetails.removeSync(name);
  }

  /** Visit every tenant record in name order (one at a time: records are not all held at once). */
  forEachTenant(fn: (name: string, rec: TenantRecord) => void): void {
    for (const { key, value } of this.tenants.getRange()) fn(key, value);
  }

  putAttribute(name: string, rec: AttributeRecord): void {
    this.attrs.putSync(name, rec);
  }

  readAttributes(): Array<[string, AttributeRecord]> {
    return [...this.attrs.getRange()].map(({ key, value }) => [key, value]);
  }

  /** One part of an attribute's index as a new bitmap (the caller disposes it), or null. */
  readAttributeBitmap(name: string, part: number | 'all'): RoaringBitmap32 | null {
    const b = this.attrBitmaps.getBinaryFast(`${name}\u0000${part}`);
    if (!b) return null;
    try {
      return RoaringBitmap32.deserialize('portable', b.subarray(0, b.length));
    } catch {
      throw createError('STRATA_INDEX_CORRUPT', `attribute bitmap ${JSON.stringify(name)}/${part} is damaged`, 'attrBitmaps');
    }
  }

  /** Store (or, with null, delete) one part of an attribute's index. */
  putAttributeBitmap(name: string, part: number | 'all', bytes: Uint8Array | null): void {
    const key = `${name}\u0000${part}`;
    if (bytes) this.attrBitmaps.putSync(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    else this.attrBitmaps.removeSync(key);
  }

  /** The slot of a live external id, or undefined. */
  slotOfId(id: number): number | undefined {
    const b = this.ids.getBinaryFast(id);
    return b && b.length === 4 ? b.readUInt32LE(0) : undefined;
  }

  putIdSlot(id: number, slot: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(slot, 0);
    this.ids.putSync(id, b);
  }

  deleteId(id: number): void {
    this.ids.removeSync(id);
  }

  /** Every (external id, slot) pair, by id (the invariant checker walks it). */
  forEachId(fn: (id: number, slot: number) => void): void {
    for (const { key, value } of this.ids.getRange()) fn(key, value.readUInt32LE(0));
  }

  /** Tombstone chunk c (a bitset of DEAD_CHUNK slots), as an owned copy, or undefined. */
  getDeadChunk(c: number): Uint32Array | undefined {
    const b = this.dead.getBinaryFast(c);
    if (!b) return undefined;
    if (b.length !== DEAD_CHUNK / 8) throw createError('STRATA_INDEX_CORRUPT', `tombstone chunk ${c} has ${b.length} bytes`, 'dead');
    const out = new Uint32Array(DEAD_CHUNK / 32);
    new Uint8Array(out.buffer).set(b.subarray(0, b.length));
    return out;
  }

  putDeadChunk(c: number, bits: Uint32Array): void {
    this.dead.putSync(c, this.copyToScratch(bits));
  }

  /** Heads changed by the commit that made heads version v, or undefined when the log no longer has it. */
  getHeadLog(v: number): Uint32Array | undefined {
    const b = this.headLog.getBinaryFast(v);
    if (!b) return undefined;
    const out = new Uint32Array(b.length >>> 2);
    new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
    return out;
  }

  putHeadLog(v: number, heads: Uint32Array): void {
    this.headLog.putSync(v, this.copyToScratch(heads));
  }

  /** Drop log entries of versions <= v (a graph saved at v no longer needs them). */
  trimHeadLog(v: number): void {
    for (const key of this.headLog.getKeys({ end: v + 1 })) this.headLog.removeSync(key);
  }

  deleteVector(slot: number): void {
    this.vectors.removeSync(slot);
  }

  /**
   * Full-precision vector of a slot (Refine). The bytes go through a private scratch Buffer:
   * lmdb-js crashes the process when handed a Buffer that views a SharedArrayBuffer (build data is
   * shared), and putSync copies into the transaction, so one scratch serves every put.
   */
  putVector(slot: number, vector: Float32Array): void {
    this.vectors.putSync(slot, this.copyToScratch(vector));
  }

  private scratch = Buffer.alloc(0);

  private copyToScratch(v: ArrayBufferView): Buffer {
    if (this.scratch.length < v.byteLength) this.scratch = Buffer.alloc(Math.max(v.byteLength, this.scratch.length * 2));
    const out = this.scratch.subarray(0, v.byteLength);
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return out;
  }

  /** Bytes of a full-precision vector, valid until the next read on this store. */
  getVectorFast(slot: number): Buffer | undefined {
    return this.vectors.getBinaryFast(slot);
  }

  /**
   * Read the newest committed state from the next read on (lmdb-js otherwise renews its read
   * snapshot on the next event turn): a search that starts after a write was acknowledged sees it.
   */
  refreshSnapshot(): void {
    this.root.resetReadTxn();
  }

  /**
   * Run `fn` in one synchronous write transaction (all or nothing). lmdb-js commits it and flushes it
   * to disk before returning, so what it wrote is durable once this returns.
   */
  write<T>(fn: () => T): T {
    this.lists.begin();
    try {
      const r = this.root.transactionSync(fn);
      this.lists.commit();
      return r;
    } catch (err) {
      this.lists.rollback();
      throw err;
    }
  }

  /** Bytes of the LMDB file on disk (allocated, not sparse size). */
  diskBytes(): number {
    return IndexStore.fileBytes(this.path);
  }

  /** Allocated bytes of a file (not its sparse apparent size). */
  static fileBytes(path: string): number {
    const st = statSync(path);
    return Math.min(st.size, st.blocks * 512);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }

  /**
   * Rewrite the environment without its free pages (LMDB's compacting copy) and switch to the copy:
   * this store is closed and the reopened one returned. LMDB reuses free pages but never shrinks its
   * file; this gives the space back. Only when no other thread or process has the index open.
   */
  async rewriteCompacted(): Promise<IndexStore> {
    const tmp = `${this.path}.compacting`;
    rmSync(tmp, { force: true });
    await this.root.backup(tmp, true);
    await this.close();
    renameSync(tmp, this.path);
    return IndexStore.open(this.dir, { postings: this.lists.kind === 'memory' ? this.lists : undefined });
  }
}

