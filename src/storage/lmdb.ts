/**
 * The one way Strata opens an LMDB environment (every store: index, passages, chunk KV entries,
 * points, service catalogue). Before the native library sees a file, both LMDB meta pages are checked
 * for the LMDB magic: lmdb's C code does not survive a garbage or truncated file (it crashes the
 * process), so a damaged file must become a coded error here. Also the read-copy helper every store
 * needs for `getBinaryFast` values, whose buffer is reused by the next read.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { createError } from '../errors.js';

export interface EnvironmentOptions {
  /** Which store this is, for error messages ("index", "passages", "kv", "points", "catalog"). */
  store: string;
  readOnly?: boolean;
  /** Create the file (and its folder) when missing; otherwise a missing file is an error. */
  create?: boolean;
  /** Named databases the environment may hold. */
  maxDbs: number;
  /** Skip zero-filling new pages (the index: large writes of whole values). */
  noMemInit?: boolean;
  /**
   * Let the kernel read ahead around each page fault of the memory map (LMDB's default). Off
   * (MDB_NORDAHEAD: the map is advised MADV_RANDOM) when values are read at random from a file
   * larger than the memory the process may use: readahead then reads pages nobody asked for, and
   * they evict the ones that were.
   */
  readAhead?: boolean;
  /** `path` is a folder holding data.mdb and lock.mdb (LMDB's default layout; the service catalogue). */
  folder?: boolean;
  /**
   * Commit without flushing to disk (MDB_NOSYNC): for caches whose entries can be fetched again — a
   * crash may lose the last commits, never the file's integrity.
   */
  noSync?: boolean;
}

const LMDB_MAGIC = 0xbeefc0de;
const P_META = 0x08;
/** Offsets in a meta page: the last page in use and the transaction id (after the magic at 24, the version, address, map size and the two database records). */
const META_LAST_PAGE = 144;
const META_TXNID = 152;

/**
 * Check both LMDB meta pages of an existing file. Each meta page has the page flags at byte 18 and
 * the magic 0xBEEFC0DE at byte 24; the page size is stored at byte 48 of the first; the file must
 * hold every page the newer meta page counts.
 */
export function checkLmdbHeader(path: string, store = 'store'): void {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return; // a file LMDB created but never wrote: it initialises it
    const head = Buffer.alloc(64);
    const bad = (what: string) => createError('STRATA_INDEX_CORRUPT', `${store}: ${path} is not an LMDB environment (${what})`, 'dir');
    if (readSync(fd, head, 0, 64, 0) < 64) throw bad('shorter than one meta page');
    const pageSize = head.readUInt32LE(48);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw bad(`implausible page size ${pageSize}`);
    const meta = Buffer.alloc(160);
    let lastPage = -1;
    let txn = -1n;
    for (const off of [0, pageSize]) {
      if (readSync(fd, meta, 0, 160, off) < 160) throw bad(`meta page at ${off} is missing`);
      if ((meta.readUInt16LE(18) & P_META) === 0 || meta.readUInt32LE(24) !== LMDB_MAGIC) throw bad(`meta page at ${off} has no LMDB magic`);
      // The newer meta page (higher txnid) says how many pages the data spans.
      const t = meta.readBigUInt64LE(META_TXNID);
      if (t > txn) (txn = t), (lastPage = Number(meta.readBigUInt64LE(META_LAST_PAGE)));
    }
    // A truncated file would fault (SIGBUS) when LMDB touches a page past its end.
    if (!(lastPage >= 1) || (lastPage + 1) * pageSize > size) throw bad(`it is truncated: ${size} bytes, its meta page needs ${(lastPage + 1) * pageSize}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Free space the data's disk must keep: below it every write is refused with STRATA_DISK_FULL
 * before LMDB is touched. LMDB does not survive running out of disk in the middle of a commit (the
 * native library aborts the process), so a write must never start without room for it; the reserve
 * is larger than any one commit (an upsert batch is at most 1,000 points). Read at each write from
 * STRATA_MIN_FREE_DISK (bytes), so worker threads and the service's --min-free-disk agree.
 */
export const DEFAULT_MIN_FREE_DISK = 64 * 2 ** 20;

function minFreeDisk(): number {
  const v = Number(process.env.STRATA_MIN_FREE_DISK);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_MIN_FREE_DISK;
}

/** STRATA_DISK_FULL unless the disk holding `path` has at least the reserve free. */
export function assertFreeSpace(path: string, store: string): void {
  const reserve = minFreeDisk();
  if (reserve === 0) return;
  const fs = statfsSync(path);
  const free = fs.bavail * fs.bsize;
  if (free < reserve) {
    throw createError('STRATA_DISK_FULL', `${store}: ${free} bytes are free on the disk of ${path}, under the reserve of ${reserve}; writes are refused until space is freed (reads go on)`, 'disk');
  }
}

/**
 * Make every write of an environment check the free space first: a transaction once when it starts
 * (the puts inside it are not checked again), a put or remove outside one each time.
 */
function guardWrites(root: RootDatabase, file: string, store: string): void {
  let inside = 0;
  const check = () => {
    if (inside === 0) assertFreeSpace(file, store);
  };
  const patch = (target: object, name: string, make: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown) => {
    const t = target as Record<string, unknown>;
    const original = t[name];
    if (typeof original === 'function') t[name] = make(original.bind(target) as (...args: unknown[]) => unknown);
  };
  const writes = ['put', 'putSync', 'remove', 'removeSync', 'clearSync', 'clearAsync', 'drop', 'dropSync'];
  const guardDb = (db: object) => {
    for (const name of writes) patch(db, name, (original) => (...args) => (check(), original(...args)));
  };
  for (const name of ['transaction', 'transactionSync', 'childTransaction']) {
    patch(root, name, (original) => (fn, ...rest) => {
      check();
      return original(() => {
        inside++;
        try {
          return (fn as () => unknown)();
        } finally {
          inside--;
        }
      }, ...rest);
    });
  }
  guardDb(root);
  patch(root, 'openDB', (original) => (...args) => {
    const db = original(...args) as object;
    guardDb(db);
    return db;
  });
}

/** Open (or create) the environment file at `path`, guarded; errors are coded and name the store. */
export function openEnvironment(path: string, options: EnvironmentOptions): RootDatabase {
  const file = options.folder ? join(path, 'data.mdb') : path;
  if (!existsSync(file)) {
    if (!options.create || options.readOnly) throw createError('STRATA_INDEX_NOT_FOUND', `${options.store}: ${file} does not exist`, 'dir');
    mkdirSync(options.folder ? path : dirname(path), { recursive: true });
  } else {
    checkLmdbHeader(file, options.store);
  }
  let root: RootDatabase;
  try {
    root = open({
      path,
      readOnly: options.readOnly ?? false,
      maxDbs: options.maxDbs,
      ...(options.noMemInit ? { noMemInit: true } : {}),
      ...(options.readAhead === false ? { noReadAhead: true } : {}),
      ...(options.noSync ? { noSync: true } : {}),
    });
  } catch (err) {
    throw createError('STRATA_INDEX_CORRUPT', `${options.store}: cannot open ${path}: ${(err as Error).message}`, 'dir');
  }
  if (!options.readOnly) guardWrites(root, file, options.store);
  return root;
}

/** A fresh copy of exactly a value's bytes (a getBinaryFast Buffer is reused by the next read). */
export function ownedCopy(b: Uint8Array): Uint8Array;
export function ownedCopy(b: Uint8Array | undefined): Uint8Array | undefined;
export function ownedCopy(b: Uint8Array | undefined): Uint8Array | undefined {
  return b ? Uint8Array.prototype.slice.call(b, 0, b.length) : undefined;
}

/**
 * Bytes lmdb-js may be handed for a put. lmdb-js crashes the process when handed a Buffer that views
 * a SharedArrayBuffer (build data is shared), and putSync copies into the transaction, so one
 * reused scratch serves every put of a store (single-threaded: the copy is consumed before the next).
 */
export class PutScratch {
  private scratch = Buffer.alloc(0);

  /** A Buffer over the same memory, or (shared memory) a scratch copy. */
  view(v: ArrayBufferView): Buffer {
    return v.buffer instanceof SharedArrayBuffer ? this.copy(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }

  /** The bytes copied into the scratch (valid until the next call). */
  copy(v: ArrayBufferView): Buffer {
    if (this.scratch.length < v.byteLength) this.scratch = Buffer.alloc(Math.max(v.byteLength, this.scratch.length * 2));
    const out = this.scratch.subarray(0, v.byteLength);
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return out;
  }
}
