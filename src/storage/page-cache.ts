/**
 * What of a file the kernel holds in its page cache, and dropping it (src/native/files.c): the
 * benchmarks' cold starts and memory caps evict an index's files before they measure, and
 * `residentBytes` shows how much of an index a process is being served from memory.
 */
import { createError } from '../errors.js';
import { loadAddon } from '../util/native.js';

interface FilesAddon {
  dropCache(path: string): void;
  residentBytes(path: string): number;
  mapOpen(path: string): object;
  mapClose(handle: object): void;
  mapLocate(handle: object, db: string, key: number, out: Float64Array): boolean;
  mapWillNeed(handle: object, db: string, keys: Uint32Array, count: number): number;
  readProbe(path: string, blockBytes: number, depth: number, millis: number): number;
}

const loaded = loadAddon<Partial<FilesAddon>>('strata_files');
/** The addon exports its functions on Linux only. */
const addon = loaded?.mapOpen ? (loaded as FilesAddon) : null;

function need(): FilesAddon {
  if (!addon) throw createError('STRATA_UNSUPPORTED_PLATFORM', 'the strata_files addon is not built (run `npm ci` or `npx node-gyp rebuild`; Linux only)', 'native');
  return addon;
}

/**
 * Evict a file's clean pages from the page cache (posix_fadvise DONTNEED). Pages a live process has
 * mapped stay; call it before the process that will read the file opens it.
 */
export function dropPageCache(path: string): void {
  need().dropCache(path);
}

/**
 * The device's random-read bandwidth under `path` (bytes/s): `depth` threads read `blockBytes`
 * blocks (a multiple of 4096) at random offsets of the file with O_DIRECT for `millis` ms — the
 * physical limit a query's device reads are compared with.
 */
export function deviceReadBandwidth(path: string, blockBytes: number, depth = 32, millis = 2000): number {
  return need().readProbe(path, blockBytes, depth, millis);
}

/** Bytes of the file now in the page cache. */
export function residentBytes(path: string): number {
  return need().residentBytes(path);
}

/**
 * Read-ahead hints for the values of an LMDB file by key: the addon finds each value's bytes in the
 * file by walking LMDB's B-tree on a map of its own and asks the kernel to start reading them
 * (posix_fadvise WILLNEED), all at once, without waiting. A probe's posting lists then come from the
 * device in parallel, one read per list, instead of one page fault at a time when they are scanned.
 * Hints only: a value being rewritten at that moment is at worst advised at its old place.
 */
export class ValuePrefetcher {
  private handle: object | null;

  private constructor(
    private readonly files: FilesAddon,
    handle: object,
  ) {
    this.handle = handle;
  }

  /** A prefetcher for the LMDB file at `path`, or null when the addon is not built. */
  static open(path: string): ValuePrefetcher | null {
    if (!addon) return null;
    try {
      return new ValuePrefetcher(addon, addon.mapOpen(path));
    } catch {
      return null; // hints are optional: a file the addon cannot read is opened (and judged) by LMDB alone
    }
  }

  /** Advise the values of keys[0..count) of named database `db`; returns the bytes advised. */
  willNeed(db: string, keys: Uint32Array, count: number): number {
    return this.handle ? this.files.mapWillNeed(this.handle, db, keys, count) : 0;
  }

  /** [file offset, length] of the value under `key` (its overflow page header included), or null. */
  locate(db: string, key: number): [number, number] | null {
    const out = new Float64Array(2);
    return this.handle && this.files.mapLocate(this.handle, db, key, out) ? [out[0], out[1]] : null;
  }

  close(): void {
    if (this.handle) this.files.mapClose(this.handle);
    this.handle = null;
  }
}
