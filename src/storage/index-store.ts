/**
 * The LMDB environment of one index directory: metadata, head vectors and posting lists.
 *
 *   <dir>/strata.mdb      LMDB environment (this file) — the source of truth
 *     meta      'meta' -> IndexMeta (msgpack)
 *     heads     u32 head number -> [u32 source id][f32 vector]
 *     postings  u32 head number -> posting list (posting-format.ts)
 *     vectors   u32 external id -> f32 vector (only with Refine: full precision for re-ranking)
 *   <dir>/heads.hnsw      hnswlib graph over the heads, derivable from `heads`
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase, type Database } from 'lmdb';
import { createError } from '../errors.js';
import type { IndexOptions } from '../index/options.js';
import type { CodecState } from '../index/codecs/codec.js';
import type { PcaState } from '../index/codecs/pca.js';

/** Bumped on any change to the layout above; checked at open. (2: codec-aware posting header, vectors db.) */
export const FORMAT_VERSION = 2;
export const LMDB_FILE = 'strata.mdb';
export const GRAPH_FILE = 'heads.hnsw';

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
  count: number;
  headCount: number;
  postingLimit: number;
  /** Posting entries summed over lists (>= count: vectors are replicated). */
  postingEntries: number;
  longestList: number;
  buildSeconds: number;
  createdAt: string;
}

export interface StoreOpenOptions {
  readOnly?: boolean;
  create?: boolean;
}

export class IndexStore {
  readonly dir: string;
  readonly path: string;
  private readonly root: RootDatabase;
  private readonly meta: Database<IndexMeta, string>;
  private readonly heads: Database<Buffer, number>;
  private readonly postings: Database<Buffer, number>;
  private readonly vectors: Database<Buffer, number>;
  private closed = false;

  private constructor(dir: string, root: RootDatabase) {
    this.dir = dir;
    this.path = join(dir, LMDB_FILE);
    this.root = root;
    this.meta = root.openDB<IndexMeta, string>({ name: 'meta' });
    this.heads = root.openDB<Buffer, number>({ name: 'heads', keyEncoding: 'uint32', encoding: 'binary' });
    this.postings = root.openDB<Buffer, number>({ name: 'postings', keyEncoding: 'uint32', encoding: 'binary' });
    this.vectors = root.openDB<Buffer, number>({ name: 'vectors', keyEncoding: 'uint32', encoding: 'binary' });
  }

  static open(dir: string, options: StoreOpenOptions = {}): IndexStore {
    const path = join(dir, LMDB_FILE);
    if (!existsSync(path)) {
      if (!options.create) throw createError('STRATA_INDEX_NOT_FOUND', `no index at ${JSON.stringify(dir)} (missing ${LMDB_FILE})`, 'dir');
      mkdirSync(dir, { recursive: true });
    }
    if (existsSync(path)) checkLmdbHeader(path);
    let root: RootDatabase;
    try {
      root = open({ path, readOnly: options.readOnly ?? false, maxDbs: 8, noMemInit: true });
      return new IndexStore(dir, root);
    } catch (err) {
      throw createError('STRATA_INDEX_CORRUPT', `cannot open ${path}: ${(err as Error).message}`, 'dir');
    }
  }

  getMeta(): IndexMeta | undefined {
    return this.meta.get('meta');
  }

  /** Put inside a write transaction (see `write`). */
  putMeta(meta: IndexMeta): void {
    this.meta.putSync('meta', meta);
  }

  putHead(head: number, sourceId: number, vector: Float32Array): void {
    const buf = Buffer.allocUnsafe(4 + vector.byteLength);
    buf.writeUInt32LE(sourceId, 0);
    Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(buf, 4);
    this.heads.putSync(head, buf);
  }

  /** Head vectors and source ids, in head order. */
  readHeads(count: number, dim: number): { vectors: Float32Array; sourceIds: Uint32Array } {
    const vectors = new Float32Array(count * dim);
    const sourceIds = new Uint32Array(count);
    for (let h = 0; h < count; h++) {
      const b = this.heads.getBinaryFast(h);
      if (!b || b.length !== 4 + 4 * dim) throw createError('STRATA_INDEX_CORRUPT', `head ${h} is missing or has the wrong size`, 'heads');
      sourceIds[h] = b.readUInt32LE(0);
      const bytes = new Uint8Array(vectors.buffer, h * dim * 4, dim * 4);
      bytes.set(b.subarray(4, 4 + dim * 4));
    }
    return { vectors, sourceIds };
  }

  putPosting(head: number, value: Uint8Array): void {
    this.postings.putSync(head, value.buffer instanceof SharedArrayBuffer ? this.copyToScratch(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  /**
   * A posting value, zero-copy where LMDB allows: the bytes are only valid until the next read on this
   * store, so scan them before reading another list.
   */
  getPostingFast(head: number): Buffer | undefined {
    return this.postings.getBinaryFast(head);
  }

  /**
   * Full-precision vector of an external id (Refine). The bytes go through a private scratch Buffer:
   * lmdb-js crashes the process when handed a Buffer that views a SharedArrayBuffer (build data is
   * shared), and putSync copies into the transaction, so one scratch serves every put.
   */
  putVector(id: number, vector: Float32Array): void {
    this.vectors.putSync(id, this.copyToScratch(vector));
  }

  private scratch = Buffer.alloc(0);

  private copyToScratch(v: ArrayBufferView): Buffer {
    if (this.scratch.length < v.byteLength) this.scratch = Buffer.alloc(Math.max(v.byteLength, this.scratch.length * 2));
    const out = this.scratch.subarray(0, v.byteLength);
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return out;
  }

  /** Bytes of a full-precision vector, valid until the next read on this store. */
  getVectorFast(id: number): Buffer | undefined {
    return this.vectors.getBinaryFast(id);
  }

  /** Run `fn` in one synchronous write transaction (all or nothing). */
  write<T>(fn: () => T): T {
    return this.root.transactionSync(fn);
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
}

const LMDB_MAGIC = 0xbeefc0de;
const P_META = 0x08;

/**
 * Check both LMDB meta pages before handing the file to the native library, which does not survive a
 * garbage file (it crashes the process). Each meta page has the page flags at byte 18 and the magic
 * 0xBEEFC0DE at byte 24; the page size is stored at byte 48 of the first.
 */
export function checkLmdbHeader(path: string): void {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSize(fd);
    if (size === 0) return; // a file LMDB created but never wrote: it initialises it
    const head = Buffer.alloc(64);
    const bad = (what: string) => createError('STRATA_INDEX_CORRUPT', `${path} is not an LMDB environment (${what})`, 'dir');
    if (readSync(fd, head, 0, 64, 0) < 64) throw bad('shorter than one meta page');
    const pageSize = head.readUInt32LE(48);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw bad(`implausible page size ${pageSize}`);
    for (const off of [0, pageSize]) {
      if (readSync(fd, head, 0, 32, off) < 32) throw bad(`meta page at ${off} is missing`);
      if ((head.readUInt16LE(18) & P_META) === 0 || head.readUInt32LE(24) !== LMDB_MAGIC) throw bad(`meta page at ${off} has no LMDB magic`);
    }
  } finally {
    closeSync(fd);
  }
}

function fstatSize(fd: number): number {
  return fstatSync(fd).size;
}
