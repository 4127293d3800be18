/**
 * Posting lists and slot blocks of an index on object storage, read through a local cache: the
 * PostingStore (posting-store.ts) of a stateless query node.
 *
 * Searches are synchronous and objects arrive asynchronously, so a query runs in rounds
 * (object-index.ts): `get` answers from the cache, and a value that is not there is noted as
 * missing and answered as absent; the caller fetches everything missing at once (`fetchMissing`:
 * one round of parallel GETs) and runs the search again, and only a search that missed nothing is
 * answered. The cache is an LMDB environment on the node's disk, keyed by the object's name (part, number, publish id) —
 * objects never change, so an entry is never stale — bounded in bytes, least recently used first
 * out (the entries a query just fetched stay).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { createError } from '../errors.js';
import { openEnvironment, ownedCopy } from './lmdb.js';
import { blockKey, listKey } from './object-layout.js';
import type { ObjectStore } from './object-store.js';
import type { PostingPart, PostingStore } from './posting-store.js';

export interface ObjectCacheStats {
  hits: number;
  misses: number;
  /** Rounds of fetches (each one round trip of parallel GETs). */
  fetchRounds: number;
  fetchedObjects: number;
  fetchedBytes: number;
  evicted: number;
  /** Bytes the cache holds now. */
  bytes: number;
}

const CACHE_FILE = 'objects.mdb';

export class ObjectPostingStore implements PostingStore {
  readonly kind = 'object';
  readonly stats: ObjectCacheStats = { hits: 0, misses: 0, fetchRounds: 0, fetchedObjects: 0, fetchedBytes: 0, evicted: 0, bytes: 0 };
  private readonly root: RootDatabase;
  private readonly db: Database<Buffer, string>;
  /** Object keys a search asked for and the cache did not hold. */
  private readonly missing = new Set<string>();
  /** Last use of each cached key (a counter), for eviction; sizes alongside. */
  private readonly used = new Map<string, number>();
  private readonly sizes = new Map<string, number>();
  private tick = 0;

  constructor(
    private readonly store: ObjectStore,
    cacheDir: string,
    /** Most bytes the cache holds. */
    private readonly cacheBytes: number,
    /** The manifest's publish id of each head's list and each block (0: none). */
    private readonly listIds: Uint32Array,
    private readonly blockIds: Uint32Array,
  ) {
    if (!existsSync(cacheDir)) mkdirSync(cacheDir, { recursive: true });
    this.root = openEnvironment(join(cacheDir, CACHE_FILE), { store: 'object cache', create: true, maxDbs: 2 });
    this.db = this.root.openDB<Buffer, string>({ name: 'objects', encoding: 'binary' });
    // What an earlier run left: its sizes count against the bound, oldest first out.
    for (const { key, value } of this.db.getRange({})) {
      this.sizes.set(key, value.length);
      this.used.set(key, this.tick++);
      this.stats.bytes += value.length;
    }
  }

  /** The object key of a part, or null when the manifest has none. */
  private objectKey(part: PostingPart, n: number): string | null {
    if (part === 'appends') return null; // folded into the list objects when published
    const ids = part === 'list' ? this.listIds : this.blockIds;
    const id = n < ids.length ? ids[n] : 0;
    if (id === 0) return null;
    return part === 'list' ? listKey(n, id) : blockKey(n, id);
  }

  get(part: PostingPart, n: number, fast = false): Uint8Array | undefined {
    const key = this.objectKey(part, n);
    if (key === null) return undefined;
    const b = this.db.getBinaryFast(key);
    if (!b) {
      this.stats.misses++;
      this.missing.add(key);
      return undefined;
    }
    this.stats.hits++;
    this.used.set(key, this.tick++);
    return fast ? b : ownedCopy(b);
  }

  getMany(part: PostingPart, heads: readonly number[]): Array<Uint8Array | undefined> {
    return heads.map((h) => this.get(part, h));
  }

  /** Whether the last searches asked for objects the cache did not hold. */
  get hasMissing(): boolean {
    return this.missing.size > 0;
  }

  /** Forget what was noted missing (a search starts a new round). */
  clearMissing(): void {
    this.missing.clear();
  }

  /** Fetch every object noted missing, in parallel, into the cache; then keep the cache in its bound. */
  async fetchMissing(): Promise<void> {
    if (this.missing.size === 0) return;
    const keys = [...this.missing];
    this.missing.clear();
    this.stats.fetchRounds++;
    const values = await this.store.getMany(keys);
    const keep = new Set<string>();
    this.root.transactionSync(() => {
      for (let i = 0; i < keys.length; i++) {
        const v = values[i];
        if (!v) throw createError('STRATA_INDEX_CORRUPT', `object store: ${keys[i]} is named by the manifest but missing`, 'manifest');
        this.db.putSync(keys[i], Buffer.from(v.buffer, v.byteOffset, v.byteLength));
        if (!this.sizes.has(keys[i])) this.stats.bytes += v.length;
        this.sizes.set(keys[i], v.length);
        this.used.set(keys[i], this.tick++);
        keep.add(keys[i]);
        this.stats.fetchedObjects++;
        this.stats.fetchedBytes += v.length;
      }
    });
    this.evict(keep);
  }

  /** Drop least recently used entries (never those in `keep`) until the cache fits its bound. */
  private evict(keep: Set<string>): void {
    if (this.stats.bytes <= this.cacheBytes) return;
    const order = [...this.used].sort((a, b) => a[1] - b[1]);
    const drop: string[] = [];
    let bytes = this.stats.bytes;
    for (const [key] of order) {
      if (bytes <= this.cacheBytes) break;
      if (keep.has(key)) continue;
      drop.push(key);
      bytes -= this.sizes.get(key) ?? 0;
    }
    this.root.transactionSync(() => {
      for (const key of drop) this.db.removeSync(key);
    });
    for (const key of drop) {
      this.stats.bytes -= this.sizes.get(key) ?? 0;
      this.sizes.delete(key);
      this.used.delete(key);
    }
    this.stats.evicted += drop.length;
  }

  put(): void {
    throw createError('STRATA_INVALID_OPTION', 'an index served from object storage is read-only on its query nodes', 'store');
  }

  delete(): void {
    this.put();
  }

  willNeed(): void {}
  begin(): void {}
  commit(): void {}
  rollback(): void {}

  async close(): Promise<void> {
    await this.root.close();
  }
}
