/**
 * What of a file the kernel holds in its page cache, and dropping it (src/native/files.c): the
 * benchmarks' cold starts and memory caps evict an index's files before they measure, and
 * `residentBytes` shows how much of an index a process is being served from memory.
 */
import { needFilesAddon } from './files-addon.js';

/**
 * Evict a file's clean pages from the page cache (posix_fadvise DONTNEED). Pages a live process has
 * mapped stay; call it before the process that will read the file opens it.
 */
export function dropPageCache(path: string): void {
  needFilesAddon().dropCache(path);
}

/**
 * The device's random-read bandwidth under `path` (bytes/s): `depth` threads read `blockBytes`
 * blocks (a multiple of 4096) at random offsets of the file with O_DIRECT for `millis` ms — the
 * physical limit a query's device reads are compared with.
 */
export function deviceReadBandwidth(path: string, blockBytes: number, depth = 32, millis = 2000): number {
  return needFilesAddon().readProbe(path, blockBytes, depth, millis);
}

/** Bytes of the file now in the page cache. */
export function residentBytes(path: string): number {
  return needFilesAddon().residentBytes(path);
}
