/**
 * Where an index's posting-format values live, behind one narrow interface: the list of a head (its
 * rewritten part), the entries appended to it since, by list id, and the slot blocks (every vector
 * once, by slot range, for exact scans), by block number. Two backends:
 *
 *   LmdbPostingStore    the default: two databases of the index's LMDB environment, written in the
 *                       same transaction as every other record of a write
 *   MemoryPostingStore  lists in this process's memory (an index for tests, or a cache tier); it
 *                       joins the index's write transactions through begin/commit/rollback, so a
 *                       write that fails leaves it as it was
 *
 * This is the seam an object-storage backend plugs into (versioned list objects fetched many at a
 * time): `getMany` is the batched read a probe needs.
 */
import type { Database } from 'lmdb';
import { ownedCopy } from './lmdb.js';
import type { LmdbValueMap } from './value-map.js';

/** The rewritten part of a list, the entries appended to it since, or a slot block. */
export type PostingPart = 'list' | 'appends' | 'block';

export interface PostingStore {
  readonly kind: 'lmdb' | 'memory' | 'object';
  /**
   * A list part's bytes; with `fast`, a view valid only until the next read (no copy: lmdb-js's
   * reused buffer, or during a search the file's own pages).
   */
  get(part: PostingPart, head: number, fast?: boolean): Uint8Array | undefined;
  /** Several list parts at once (owned copies), in the order asked. */
  getMany(part: PostingPart, heads: readonly number[]): Array<Uint8Array | undefined>;
  /** Store a list part (inside the index's write transaction). */
  put(part: PostingPart, head: number, value: Uint8Array): void;
  delete(part: PostingPart, head: number): void;
  /**
   * A hint that list parts keys[0..count) are about to be read: the LMDB backend asks the kernel to
   * start reading each one from the device now (value-map.ts), so a probe's lists
   * arrive in parallel instead of one page fault at a time as they are scanned. Returns at once.
   */
  willNeed(part: PostingPart, keys: Uint32Array, count: number): void;
  /**
   * A search's reads begin and end (IndexStore.beginRead/endRead): a store that can serve values in
   * place for that long (object-posting-store.ts's cache) pins its snapshot here.
   */
  beginRead?(): void;
  endRead?(): void;
  /** The index's write transaction starts, commits or rolls back. */
  begin(): void;
  commit(): void;
  rollback(): void;
}

/** The LMDB database names of the parts (index-store.ts). */
export const DB_NAMES: Record<PostingPart, string> = { list: 'postings', appends: 'appends', block: 'blocks' };

export class LmdbPostingStore implements PostingStore {
  readonly kind = 'lmdb';

  constructor(
    private readonly dbs: Record<PostingPart, Database<Buffer, number>>,
    /** Bytes lmdb-js may be handed (shared memory is copied first). */
    private readonly toBuffer: (value: Uint8Array) => Buffer,
    /** Read-ahead hints and, during a search (IndexStore.beginRead), zero-copy views; null without the addon. */
    private readonly map: LmdbValueMap | null = null,
  ) {}

  private db(part: PostingPart): Database<Buffer, number> {
    return this.dbs[part];
  }

  get(part: PostingPart, head: number, fast = false): Uint8Array | undefined {
    if (fast && this.map) {
      const v = this.map.view(DB_NAMES[part], head);
      if (v !== null) return v;
    }
    const b = this.db(part).getBinaryFast(head);
    return fast ? b : ownedCopy(b);
  }

  getMany(part: PostingPart, heads: readonly number[]): Array<Uint8Array | undefined> {
    return heads.map((h) => this.get(part, h));
  }

  put(part: PostingPart, head: number, value: Uint8Array): void {
    this.db(part).putSync(head, this.toBuffer(value));
  }

  willNeed(part: PostingPart, keys: Uint32Array, count: number): void {
    this.map?.willNeed(DB_NAMES[part], keys, count);
  }

  delete(part: PostingPart, head: number): void {
    this.db(part).removeSync(head);
  }

  // LMDB's own transaction covers these.
  begin(): void {}
  commit(): void {}
  rollback(): void {}
}

export class MemoryPostingStore implements PostingStore {
  readonly kind = 'memory';
  private readonly parts: Record<PostingPart, Map<number, Uint8Array>> = { list: new Map(), appends: new Map(), block: new Map() };
  /** Values replaced in the open transaction, to put back on rollback (the outermost one counts). */
  private journal: Array<[PostingPart, number, Uint8Array | undefined]> | null = null;
  private depth = 0;

  get(part: PostingPart, head: number): Uint8Array | undefined {
    return this.parts[part].get(head); // values are never mutated in place: the stored array is the view
  }

  getMany(part: PostingPart, heads: readonly number[]): Array<Uint8Array | undefined> {
    return heads.map((h) => this.parts[part].get(h));
  }

  willNeed(): void {}

  put(part: PostingPart, head: number, value: Uint8Array): void {
    this.journal?.push([part, head, this.parts[part].get(head)]);
    this.parts[part].set(head, Uint8Array.prototype.slice.call(value));
  }

  delete(part: PostingPart, head: number): void {
    this.journal?.push([part, head, this.parts[part].get(head)]);
    this.parts[part].delete(head);
  }

  begin(): void {
    if (this.depth++ === 0) this.journal = [];
  }

  commit(): void {
    if (--this.depth === 0) this.journal = null;
  }

  rollback(): void {
    if (--this.depth > 0) return; // the outermost transaction undoes everything
    const j = this.journal ?? [];
    for (let i = j.length - 1; i >= 0; i--) {
      const [part, head, old] = j[i];
      if (old) this.parts[part].set(head, old);
      else this.parts[part].delete(head);
    }
    this.journal = null;
  }
}
