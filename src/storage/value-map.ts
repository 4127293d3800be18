/**
 * The values of an index's LMDB file by their place in the file (src/native/files.c walks LMDB's
 * B-tree on a map of its own):
 *
 *  - read-ahead hints: `willNeed` asks the kernel to start reading each value now (posix_fadvise
 *    WILLNEED), all at once, so a probe's lists come from the device in parallel, one read per list,
 *    instead of one page fault at a time when they are scanned. Hints only: a value being rewritten
 *    at that moment is at worst advised at its old place.
 *  - zero-copy reads: between `pin` and `unpin` (one search), `view` returns a value as a view of the
 *    file's own pages — lmdb-js copies every value under 16 MiB into a reused buffer first, which was
 *    27-38% of a search on hard data. A pin is only granted when the newest committed snapshot holds
 *    the same index version as the caller's LMDB read transaction (IndexStore.beginRead), which stays
 *    open until unpin: the pages read are ones that transaction keeps from being reused.
 *
 * Windows: the file is mapped in windows of WINDOW_STRIDE bytes (each WINDOW_SLACK longer, so a value
 * that starts in a window and is at most WINDOW_SLACK long lies inside it), created on first use and
 * unmapped by `close` (which detaches their ArrayBuffers). A longer value (or a missing addon) is read
 * by lmdb-js as before.
 */
import { type FilesAddon, filesAddon } from './files-addon.js';

const WINDOW_STRIDE = 2 ** 30;
const WINDOW_SLACK = 2 ** 26;
/** Each window keeps its map's handle reachable (the handle's finalizer unmaps every window). */
const owners = new WeakMap<ArrayBuffer, object>();

export class LmdbValueMap {
  private handle: object | null;
  private readonly windows: ArrayBuffer[] = [];
  private readonly at = new Float64Array(2);
  private pinned = false;

  private constructor(
    private readonly files: FilesAddon,
    handle: object,
    /** Named databases `view` reads, by position. */
    private readonly dbs: readonly string[],
    private readonly readAhead: boolean,
  ) {
    this.handle = handle;
  }

  /** A map of the LMDB file at `path` whose `view` reads `dbs`, or null when the addon is not built. */
  static open(path: string, dbs: readonly string[] = [], readAhead = true): LmdbValueMap | null {
    if (!filesAddon) return null;
    try {
      return new LmdbValueMap(filesAddon, filesAddon.mapOpen(path), dbs, readAhead);
    } catch {
      return null; // optional: a file the addon cannot read is opened (and judged) by LMDB alone
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

  /**
   * Serve `view` from the newest committed snapshot if its value under `key` of `metaDb` is exactly
   * `expected` (read by the caller in the LMDB read transaction it keeps open until `unpin`).
   */
  pin(metaDb: string, key: Buffer, expected: Buffer): boolean {
    this.pinned = this.handle !== null && this.files.mapPin(this.handle, this.dbs, metaDb, key, expected);
    return this.pinned;
  }

  unpin(): void {
    if (!this.pinned) return;
    this.pinned = false;
    if (this.handle) this.files.mapUnpin(this.handle);
  }

  /**
   * The value under `key` of named database `db` (one of those it was opened with) as a view of the file (no copy), undefined when absent, or null
   * when it cannot be viewed (nothing pinned, or longer than a window's slack): read it through LMDB.
   */
  view(db: string, key: number): Uint8Array | undefined | null {
    if (!this.pinned || !this.handle) return null;
    const i = this.dbs.indexOf(db);
    if (i < 0) return null;
    const at = this.at;
    const rc = this.files.mapGet(this.handle, i, key, at);
    if (rc <= 0) return rc === 0 ? undefined : null;
    const w = Math.floor(at[0] / WINDOW_STRIDE);
    const start = at[0] - w * WINDOW_STRIDE;
    if (start + at[1] > WINDOW_STRIDE + WINDOW_SLACK) return null;
    const window = this.windows[w] ?? this.openWindow(w);
    return new Uint8Array(window, start, at[1]);
  }

  private openWindow(w: number): ArrayBuffer {
    const window = this.files.mapWindow(this.handle!, w * WINDOW_STRIDE, WINDOW_STRIDE + WINDOW_SLACK, this.readAhead);
    owners.set(window, this.handle!);
    this.windows[w] = window;
    return window;
  }

  /** Unmaps the windows: views handed out read as empty from here on (never as freed memory). */
  close(): void {
    this.pinned = false;
    if (this.handle) this.files.mapClose(this.handle);
    this.handle = null;
    this.windows.length = 0;
  }
}
