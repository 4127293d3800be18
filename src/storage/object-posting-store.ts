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
import { LmdbValueMap } from './value-map.js';

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
/** The cache's databases: u32 number -> [u32 publish id][the object's bytes]. */
const CACHE_DBS: Record<'list' | 'block', string> = { list: 'lists', block: 'blocks' };
const META_DB = 'meta';
/** Bumped by every commit to the cache: what a zero-copy pin compares (value-map.ts). */
const VERSION_KEY = 'version';
const ID_BYTES = 4;

/** One cache entry's name for eviction bookkeeping. */
const entryOf = (part: 'list' | 'block', n: number) => (part === 'list' ? n : -1 - n);

export class ObjectPostingStore implements PostingStore {
  readonly kind = 'object';
  readonly stats: ObjectCacheStats = { hits: 0, misses: 0, fetchRounds: 0, fetchedObjects: 0, fetchedBytes: 0, evicted: 0, bytes: 0 };
  private readonly root: RootDatabase;
  private readonly dbs: Record<'list' | 'block', Database<Buffer, number>>;
  private readonly meta: Database<number, string>;
  /** Zero-copy views of cached values during a search (null without the addon). */
  private readonly map: LmdbValueMap | null;
  private version: number;
  /** Objects a search asked for and the cache did not hold: entry -> [part, number, object key]. */
  private readonly missing = new Map<number, ['list' | 'block', number, string]>();
  /** Last use (a counter) and size of each cached entry, for eviction. */
  private readonly used = new Map<number, number>();
  private readonly sizes = new Map<number, number>();
  private tick = 0;

  constructor(
    private readonly store: ObjectStore,
    cacheDir: string,
    /** Most bytes the cache holds. */
    private readonly cacheBytes: number,
    /** The manifest's publish id of each head's list and each block (0: none). */
    private listIds: Uint32Array,
    private blockIds: Uint32Array,
  ) {
    if (!existsSync(cacheDir)) mkdirSync(cacheDir, { recursive: true });
    const path = join(cacheDir, CACHE_FILE);
    // A cache: entries lost in a crash are fetched again, so commits are not flushed (a flush per fetch
    // round cost ~40 ms, the whole of a cold query).
    this.root = openEnvironment(path, { store: 'object cache', create: true, maxDbs: 4, noSync: true });
    this.dbs = {
      list: this.root.openDB<Buffer, number>({ name: CACHE_DBS.list, keyEncoding: 'uint32', encoding: 'binary' }),
      block: this.root.openDB<Buffer, number>({ name: CACHE_DBS.block, keyEncoding: 'uint32', encoding: 'binary' }),
    };
    this.meta = this.root.openDB<number, string>({ name: META_DB });
    this.version = this.meta.get(VERSION_KEY) ?? 0;
    if (this.version === 0) this.bump(() => {});
    this.map = LmdbValueMap.open(path, [CACHE_DBS.list, CACHE_DBS.block]);
    // What an earlier run left: its sizes count against the bound, oldest first out.
    for (const part of ['list', 'block'] as const) {
      for (const { key, value } of this.dbs[part].getRange({})) {
        const e = entryOf(part, key);
        this.sizes.set(e, value.length);
        this.used.set(e, this.tick++);
        this.stats.bytes += value.length;
      }
    }
  }

  /** A commit to the cache, with the version record bumped in it. */
  private bump(fn: () => void): void {
    this.root.transactionSync(() => {
      fn();
      this.meta.putSync(VERSION_KEY, ++this.version);
    });
  }

  /** The object key of a part and the publish id it must carry, or null when the manifest has none. */
  private idOf(part: 'list' | 'block', n: number): number {
    const ids = part === 'list' ? this.listIds : this.blockIds;
    return n < ids.length ? ids[n] : 0;
  }

  /**
   * Serve another manifest's objects from here on (a node following a newer publish): entries of
   * lists that did not change stay valid; the others no longer match their id and are fetched anew.
   */
  useManifest(listIds: Uint32Array, blockIds: Uint32Array): void {
    this.listIds = listIds;
    this.blockIds = blockIds;
    this.missing.clear();
  }

  /** A search's reads begin: cached values are viewed in place (IndexStore.beginRead). */
  beginRead(): void {
    const v = this.meta.getBinaryFast(VERSION_KEY); // opens this thread's read snapshot of the cache
    if (v && this.map) this.map.pin(META_DB, Buffer.from(VERSION_KEY), Buffer.from(v.buffer, v.byteOffset, v.length));
  }

  endRead(): void {
    this.map?.unpin();
  }

  get(part: PostingPart, n: number, fast = false): Uint8Array | undefined {
    if (part === 'appends') return undefined; // folded into the list objects when published
    const id = this.idOf(part, n);
    if (id === 0) return undefined;
    const view = this.map ? this.map.view(CACHE_DBS[part], n) : null;
    const b = view === null ? this.dbs[part].getBinaryFast(n) : view;
    const e = entryOf(part, n);
    if (!b || b.length < ID_BYTES || (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0 !== id) {
      // Not cached, or cached from another manifest's object.
      this.stats.misses++;
      this.missing.set(e, [part, n, part === 'list' ? listKey(n, id) : blockKey(n, id)]);
      return undefined;
    }
    this.stats.hits++;
    this.used.set(e, this.tick++);
    const value = b.subarray(ID_BYTES, b.length);
    return fast ? value : ownedCopy(value);
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
    const wanted = [...this.missing];
    this.missing.clear();
    this.stats.fetchRounds++;
    const values = await this.store.getMany(wanted.map(([, [, , key]]) => key));
    const keep = new Set<number>();
    this.bump(() => {
      for (let i = 0; i < wanted.length; i++) {
        const [e, [part, n, key]] = wanted[i];
        const v = values[i];
        if (!v) throw createError('STRATA_INDEX_CORRUPT', `object store: ${key} is named by the manifest but missing`, 'manifest');
        const entry = Buffer.allocUnsafe(ID_BYTES + v.length);
        entry.writeUInt32LE(this.idOf(part, n), 0);
        entry.set(v, ID_BYTES);
        this.dbs[part].putSync(n, entry);
        this.stats.bytes += entry.length - (this.sizes.get(e) ?? 0);
        this.sizes.set(e, entry.length);
        this.used.set(e, this.tick++);
        keep.add(e);
        this.stats.fetchedObjects++;
        this.stats.fetchedBytes += v.length;
      }
    });
    this.evict(keep);
  }

  /** Drop least recently used entries (never those in `keep`) until the cache fits its bound. */
  private evict(keep: Set<number>): void {
    if (this.stats.bytes <= this.cacheBytes) return;
    const order = [...this.used].sort((a, b) => a[1] - b[1]);
    const drop: number[] = [];
    let bytes = this.stats.bytes;
    for (const [e] of order) {
      if (bytes <= this.cacheBytes) break;
      if (keep.has(e)) continue;
      drop.push(e);
      bytes -= this.sizes.get(e) ?? 0;
    }
    this.bump(() => {
      for (const e of drop) (e >= 0 ? this.dbs.list : this.dbs.block).removeSync(e >= 0 ? e : -1 - e);
    });
    for (const e of drop) {
      this.stats.bytes -= this.sizes.get(e) ?? 0;
      this.sizes.delete(e);
      this.used.delete(e);
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
    this.map?.close();
    await this.root.close();
  }
}
