/**
 * The LMDB environment of one index directory: metadata, head vectors and posting lists.
 *
 *   <dir>/strata.mdb      LMDB environment (this file) — the source of truth
 *     meta      'meta' -> IndexMeta (msgpack); 'version' -> meta.version (polled by readers);
 *               'cells' -> coarse cell centres (f32 bytes); 'calibration' -> the recall
 *               curve and its sample (CalibrationRecord, msgpack; since format 8)
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
import type { RootDatabase } from 'lmdb';
import { openEnvironment, PutScratch } from './lmdb.js';
import { DB_NAMES, LmdbPostingStore, type PostingStore } from './posting-store.js';
import { LmdbValueMap } from './value-map.js';
import { createError } from '../errors.js';
import type { AttributeRecord, CalibrationRecord, IndexMeta, TenantDetailsRecord, TenantRecord } from './records.js';
import {
  type AttributeRecords,
  type HeadRecords,
  type IdMap,
  LmdbAttributeRecords,
  LmdbHeadRecords,
  LmdbIdMap,
  LmdbMetaRecords,
  LmdbSlotMap,
  LmdbTenantRecords,
  LmdbTombstoneRecords,
  LmdbVectorRecords,
  VECTORS_DB,
  HEADS_DB,
  type MetaRecords,
  type SlotMap,
  type TenantRecords,
  type TombstoneRecords,
  type VectorRecords,
} from './index-records.js';

/**
 * Bumped on any change to the layout above; checked at open. (2: codec-aware posting header, vectors
 * db. 3: slots in postings, blocks, slots, tenants and attrs dbs. 4: tenants as slot runs with their
 * details apart, attribute bitmaps one record per value. 5: live updates — ids, dead and headLog
 * dbs, head numbers may have gaps, a version file beside the graph. 7: checksummed values. 8: the
 * recall calibration record.)
 */
export const FORMAT_VERSION = 8;
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
export const LMDB_FILE = 'strata.mdb';
/** The databases zero-copy reads serve (value-map.ts), by position. */
const MAPPED_DBS = [DB_NAMES.list, DB_NAMES.appends, DB_NAMES.block, VECTORS_DB, HEADS_DB];
const META_DB = 'meta';
/** The version record's key as lmdb-js stores a string key (its bytes). */
const VERSION_KEY = Buffer.from('version');
export const GRAPH_FILE = 'heads.hnsw';
/** Beside the graph: the heads version (meta.headsVersion) the saved graph reflects. */
export const GRAPH_VERSION_FILE = 'heads.hnsw.version';

export interface StoreOpenOptions {
  readOnly?: boolean;
  create?: boolean;
  /** Kernel readahead on the map (lmdb.ts). Default true (LMDB's own default). */
  readAhead?: boolean;
  /** Where posting lists live (posting-store.ts). Default: the environment's own databases. */
  postings?: PostingStore;
}

/**
 * One index directory's LMDB environment, handed out as narrow record stores (index-records.ts,
 * posting-store.ts): the index layer reads and writes through `meta`, `heads`, `lists`, `slots`,
 * `ids`, `dead`, `tenants`, `attributes` and `vectors`, and groups writes with `write`.
 */
export class IndexStore {
  readonly dir: string;
  readonly path: string;
  private readonly root: RootDatabase;
  readonly meta: MetaRecords;
  readonly heads: HeadRecords;
  /** The posting lists, their appends and the slot blocks. */
  readonly lists: PostingStore;
  readonly slots: SlotMap;
  readonly ids: IdMap;
  readonly dead: TombstoneRecords;
  readonly tenants: TenantRecords;
  readonly attributes: AttributeRecords;
  readonly vectors: VectorRecords;
  /** Read-ahead hints and zero-copy reads of posting lists and vectors (value-map.ts); null without the addon. */
  private readonly valueMap: LmdbValueMap | null;
  /** Write transactions open on this thread (no zero-copy reads inside one). */
  private writing = 0;
  private closed = false;

  private constructor(
    dir: string,
    root: RootDatabase,
    /** Opened read-only: nothing may be written through it. */
    readonly readOnly: boolean,
    postings?: PostingStore,
    readAhead = true,
  ) {
    this.dir = dir;
    this.path = join(dir, LMDB_FILE);
    this.root = root;
    const scratch = new PutScratch();
    const u32 = (name: string) => root.openDB<Buffer, number>({ name, keyEncoding: 'uint32', encoding: 'binary' });
    this.meta = new LmdbMetaRecords(root.openDB<IndexMeta | CalibrationRecord | Uint8Array | number, string>({ name: META_DB }));
    this.valueMap = LmdbValueMap.open(this.path, MAPPED_DBS, readAhead);
    this.heads = new LmdbHeadRecords(u32(HEADS_DB), u32('headLog'), scratch, this.valueMap);
    this.lists = postings ?? new LmdbPostingStore({ list: u32(DB_NAMES.list), appends: u32(DB_NAMES.appends), block: u32(DB_NAMES.block) }, (v) => scratch.view(v), this.valueMap);
    this.slots = new LmdbSlotMap(u32('slots'));
    this.ids = new LmdbIdMap(u32('ids'));
    this.dead = new LmdbTombstoneRecords(u32('dead'), scratch);
    this.tenants = new LmdbTenantRecords(root.openDB<TenantRecord, string>({ name: 'tenants' }), root.openDB<TenantDetailsRecord, string>({ name: 'tenantDetails' }));
    this.attributes = new LmdbAttributeRecords(root.openDB<AttributeRecord, string>({ name: 'attrs' }), root.openDB<Buffer, string>({ name: 'attrBitmaps', encoding: 'binary' }));
    this.vectors = new LmdbVectorRecords(u32(VECTORS_DB), scratch, this.valueMap);
  }

  static open(dir: string, options: StoreOpenOptions = {}): IndexStore {
    const path = join(dir, LMDB_FILE);
    if (!existsSync(path)) {
      if (!options.create) throw createError('STRATA_INDEX_NOT_FOUND', `no index at ${JSON.stringify(dir)} (missing ${LMDB_FILE})`, 'dir');
      mkdirSync(dir, { recursive: true });
    }
    return new IndexStore(dir, openEnvironment(path, { store: 'index', readOnly: options.readOnly, create: options.create, maxDbs: 16, noMemInit: true, readAhead: options.readAhead }), options.readOnly ?? false, options.postings, options.readAhead ?? true);
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
    this.writing++;
    try {
      const r = this.root.transactionSync(fn);
      this.lists.commit();
      return r;
    } catch (err) {
      this.lists.rollback();
      throw err;
    } finally {
      this.writing--;
    }
  }

  /**
   * A search's reads begin: from here to endRead, fast reads of posting lists and vectors are views of
   * the file's own pages (value-map.ts) when the newest committed snapshot holds the index version
   * this thread's LMDB read transaction sees (that transaction, opened by the version read here, stays
   * open until the event turn ends, so the pages stay put). Returns whether they are; otherwise reads
   * are lmdb-js copies as before. Not inside a write transaction.
   */
  beginRead(): boolean {
    this.lists.beginRead?.();
    if (this.writing > 0 || !this.valueMap) return false;
    const v = this.meta.versionBytes();
    return v !== undefined && this.valueMap.pin(META_DB, VERSION_KEY, Buffer.from(v.buffer, v.byteOffset, v.length));
  }

  endRead(): void {
    this.valueMap?.unpin();
    this.lists.endRead?.();
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
    this.valueMap?.close();
    await this.root.close();
  }

  /**
   * Write to `path` a compacted copy of this environment without its posting values (lists, appends,
   * slot blocks, full-precision vectors): what a query node of an index on object storage opens
   * (object-layout.ts "skeleton"), the values coming from the object store instead.
   */
  async copySkeleton(path: string): Promise<void> {
    const tmp = `${path}.full`;
    rmSync(tmp, { force: true });
    rmSync(path, { force: true });
    // A plain copy first: the LMDB bundled with lmdb-js asserts on the first write to a compacted copy.
    await this.root.backup(tmp, false);
    const copy = openEnvironment(tmp, { store: 'skeleton', maxDbs: 16, noMemInit: true });
    try {
      for (const name of [DB_NAMES.list, DB_NAMES.appends, DB_NAMES.block, VECTORS_DB]) copy.openDB({ name, keyEncoding: 'uint32', encoding: 'binary' }).clearSync();
      await copy.backup(path, true);
    } finally {
      await copy.close();
      rmSync(tmp, { force: true });
      rmSync(`${tmp}-lock`, { force: true });
    }
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

