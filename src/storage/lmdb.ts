/**
 * The one way Strata opens an LMDB environment (every store: index, passages, chunk KV entries,
 * points, service catalogue). Before the native library sees a file, both LMDB meta pages are checked
 * for the LMDB magic: lmdb's C code does not survive a garbage or truncated file (it crashes the
 * process), so a damaged file must become a coded error here. Also the read-copy helper every store
 * needs for `getBinaryFast` values, whose buffer is reused by the next read.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
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
  /** `path` is a folder holding data.mdb and lock.mdb (LMDB's default layout; the service catalogue). */
  folder?: boolean;
}

const LMDB_MAGIC = 0xbeefc0de;
const P_META = 0x08;

/**
 * Check both LMDB meta pages of an existing file. Each meta page has the page flags at byte 18 and
 * the magic 0xBEEFC0DE at byte 24; the page size is stored at byte 48 of the first.
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
    for (const off of [0, pageSize]) {
      if (readSync(fd, head, 0, 32, off) < 32) throw bad(`meta page at ${off} is missing`);
      if ((head.readUInt16LE(18) & P_META) === 0 || head.readUInt32LE(24) !== LMDB_MAGIC) throw bad(`meta page at ${off} has no LMDB magic`);
    }
  } finally {
    closeSync(fd);
  }
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
  try {
    return open({ path, readOnly: options.readOnly ?? false, maxDbs: options.maxDbs, ...(options.noMemInit ? { noMemInit: true } : {}) });
  } catch (err) {
    throw createError('STRATA_INDEX_CORRUPT', `${options.store}: cannot open ${path}: ${(err as Error).message}`, 'dir');
  }
}

/** A fresh copy of exactly a value's bytes (a getBinaryFast Buffer is reused by the next read). */
export function ownedCopy(b: Uint8Array): Uint8Array;
export function ownedCopy(b: Uint8Array | undefined): Uint8Array | undefined;
export function ownedCopy(b: Uint8Array | undefined): Uint8Array | undefined {
  return b ? Uint8Array.prototype.slice.call(b, 0, b.length) : undefined;
}
