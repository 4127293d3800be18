/**
 * The strata_files addon (src/native/files.c), typed: page-cache control, the device probe and the
 * LMDB value map. Null when it is not built (or off Linux, where it exports nothing).
 */
import { createError } from '../errors.js';
import { loadAddon } from '../util/native.js';

export interface FilesAddon {
  dropCache(path: string): void;
  residentBytes(path: string): number;
  readProbe(path: string, blockBytes: number, depth: number, millis: number): number;
  mapOpen(path: string): object;
  mapClose(handle: object): void;
  mapLocate(handle: object, db: string, key: number, out: Float64Array): boolean;
  mapWillNeed(handle: object, db: string, keys: Uint32Array, count: number): number;
  mapPin(handle: object, dbs: readonly string[], metaDb: string, key: Buffer, expected: Buffer): boolean;
  mapUnpin(handle: object): void;
  mapGet(handle: object, db: number, key: number, out: Float64Array): number;
  mapWindow(handle: object, offset: number, length: number, readAhead: boolean): ArrayBuffer;
}

const loaded = loadAddon<Partial<FilesAddon>>('strata_files');
/** The addon exports its functions on Linux only. */
export const filesAddon: FilesAddon | null = loaded?.mapOpen ? (loaded as FilesAddon) : null;

export function needFilesAddon(): FilesAddon {
  if (!filesAddon) throw createError('STRATA_UNSUPPORTED_PLATFORM', 'the strata_files addon is not built (run `npm ci` or `npm run install`; Linux only)', 'native');
  return filesAddon;
}
