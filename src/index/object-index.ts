/**
 * An index on object storage (storage/object-layout.ts), and the stateless query node that serves
 * it:
 *
 *   publishIndex(dir, store)   uploads a built embedded index as immutable objects — every list
 *                              (its appends folded in) and slot block, the skeleton (its LMDB file
 *                              without posting values) and the head graph — then creates the next
 *                              manifest with If-None-Match: * (one publisher wins a number)
 *   ObjectIndex.open(...)      a query node: the newest manifest, its skeleton and graph (downloaded
 *                              once into the node's cache folder), posting lists and blocks fetched
 *                              on demand into a local LMDB cache bounded in bytes
 *
 * A node's search runs in rounds: the synchronous search answers from the cache and notes what it
 * lacked; everything lacking is fetched at once (one round trip of parallel GETs) and the search
 * runs again. An unscoped probe's lists do not depend on the lists' contents, so a cold query takes
 * one fetch round (plus the graph search it does anyway); answers equal the embedded index's because
 * the last round runs on exactly the same bytes.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { GRAPH_FILE, GRAPH_VERSION_FILE, IndexStore, LMDB_FILE } from '../storage/index-store.js';
import {
  blockKey,
  decodeVersions,
  contentHash,
  encodeVersions,
  graphKey,
  HASH_BYTES,
  LATEST_HINT,
  listKey,
  MANIFESTS,
  manifestKey,
  manifestNumber,
  type ObjectManifest,
  OBJECT_LAYOUT_VERSION,
  parseManifest,
  skeletonKey,
} from '../storage/object-layout.js';
import { ObjectPostingStore, type ObjectCacheStats } from '../storage/object-posting-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { concatPostings } from '../storage/posting-format.js';
import { savedGraphVersion } from './graph-sync.js';
import { parseSpec } from './spec.js';
import { type Metric, normalizeRows } from './distance.js';
import { batchKernel } from './kernels.js';
import { type LogBatch, readLog } from '../storage/object-log.js';
import { openIndex, readMeta, type SearchOptions, type SearchResult, type SpannIndex } from './spann.js';

/** Uploads in flight at once while publishing. */
const PUBLISH_CONCURRENCY = 32;
/** Fetch rounds a query may take before the node gives up (a cold scoped query takes 2-3). */
const MAX_ROUNDS = 8;

/** The number of the newest manifest under the store's prefix, 0 when there is none. */
export async function latestManifest(store: ObjectStore): Promise<number> {
  const hint = await store.get(LATEST_HINT);
  const from = hint ? Number(Buffer.from(hint).toString('utf8')) : 0;
  // List from the hinted manifest on (it included, when it exists): one request, however many there are before it.
  const after = Number.isInteger(from) && from > 1 ? manifestKey(from - 1) : undefined;
  const keys = await store.list(MANIFESTS, after ? { startAfter: after } : {});
  let newest = 0;
  for (const k of keys) {
    const n = manifestNumber(k);
    if (n > newest) newest = n;
  }
  return newest;
}

export type PublishProgress = (stage: 'lists' | 'blocks' | 'skeleton', done: number, total: number) => void;

/**
 * Upload the built index in `dir` to `store` as the next manifest; returns the manifest. The graph
 * file must reflect the heads (any writable open of the index saves it so). Indexes with `Refine`
 * keep full-precision vectors that are not published yet: refused.
 */
export async function publishIndex(dir: string, store: ObjectStore, onProgress?: PublishProgress, appliedLog = 0): Promise<ObjectManifest> {
  const idx = IndexStore.open(dir, { readOnly: true });
  try {
    const meta = readMeta(idx, dir);
    if (meta.state !== 'built') throw createError('STRATA_INDEX_NOT_BUILT', `${dir} is not built: build it before publishing`, 'dir');
    if (parseSpec(meta.spec).refine) throw createError('STRATA_INVALID_OPTION', `${dir} uses Refine: its full-precision vectors are not published to object storage yet`, 'spec');
    if (savedGraphVersion(dir) !== meta.headsVersion) throw createError('STRATA_INVALID_OPTION', `${dir}'s graph file is older than its heads: open the index once for writing (e.g. \`strata index stats\`) to save it`, 'dir');
    const previousVersion = await latestManifest(store);
    const version = previousVersion + 1;
    const id = randomInt(1, 2 ** 32 - 1); // names this publish's objects apart from a racing one's
    // Objects whose content did not change since the previous manifest are named again, not uploaded.
    const previous = previousVersion > 0 ? await readManifest(store, previousVersion) : null;
    const reuse = (ids: string | undefined, hashes: string | undefined, field: string) =>
      ids !== undefined && hashes !== undefined ? { ids: decodeVersions(ids, field), hashes: Buffer.from(hashes, 'base64') } : null;
    const prevLists = previous ? reuse(previous.lists, previous.listHashes, 'lists') : null;
    const prevBlocks = previous ? reuse(previous.blocks, previous.blockHashes, 'blocks') : null;
    let reused = 0;
    /** The id of an unchanged object of the previous manifest, or 0. */
    const same = (prev: typeof prevLists, n: number, hashes: Uint8Array): number => {
      if (!prev || n >= prev.ids.length || prev.ids[n] === 0 || (n + 1) * HASH_BYTES > prev.hashes.length) return 0;
      return Buffer.compare(prev.hashes.subarray(n * HASH_BYTES, (n + 1) * HASH_BYTES), hashes.subarray(n * HASH_BYTES, (n + 1) * HASH_BYTES)) === 0 ? prev.ids[n] : 0;
    };
    let objects = 0;
    let bytes = 0;
    const upload = async (key: string, body: Uint8Array) => {
      if (!(await store.create(key, body))) throw createError('STRATA_STORE_CONFLICT', `object store: ${key} exists (publish ids collided): publish again`, 'manifest');
      objects++;
      bytes += body.length;
    };
    const parallel = async (count: number, stage: 'lists' | 'blocks', one: (i: number) => Promise<void>) => {
      let next = 0;
      let done = 0;
      await Promise.all(
        Array.from({ length: Math.min(PUBLISH_CONCURRENCY, count) }, async () => {
          while (next < count) {
            await one(next++);
            if (++done % 256 === 0 || done === count) onProgress?.(stage, done, count);
          }
        }),
      );
    };
    /** Object n of a kind: named again when unchanged since the previous manifest, else uploaded under this publish's id. */
    const place = async (n: number, value: Uint8Array, ids: Uint32Array, hashes: Uint8Array, prev: typeof prevLists, key: (n: number, id: number) => string) => {
      contentHash(value, hashes, n);
      const kept = same(prev, n, hashes);
      ids[n] = kept !== 0 ? kept : id;
      if (kept !== 0) reused++;
      else await upload(key(n, id), value);
    };
    // Lists, appends folded in. Read (copied) one at a time on this thread; uploads overlap.
    const lists = new Uint32Array(meta.headCount);
    const listHashes = new Uint8Array(meta.headCount * HASH_BYTES);
    await parallel(meta.headCount, 'lists', async (h) => {
      const base = idx.lists.get('list', h);
      const extra = idx.lists.get('appends', h);
      const value = base && extra ? concatPostings(base, extra) : (base ?? extra);
      if (value) await place(h, value, lists, listHashes, prevLists, listKey);
    });
    const blockCount = Math.ceil(meta.slotCount / Math.max(1, meta.blockSlots));
    const blocks = new Uint32Array(blockCount);
    const blockHashes = new Uint8Array(blockCount * HASH_BYTES);
    await parallel(blockCount, 'blocks', async (b) => {
      const value = idx.lists.get('block', b);
      if (value) await place(b, value, blocks, blockHashes, prevBlocks, blockKey);
    });
    const tmp = join(dir, `skeleton-${process.pid}-${id.toString(16)}.mdb`);
    try {
      await idx.copySkeleton(tmp);
      await upload(skeletonKey(version, id), readFileSync(tmp));
    } finally {
      rmSync(tmp, { force: true });
      rmSync(`${tmp}-lock`, { force: true });
    }
    onProgress?.('skeleton', 1, 1);
    await upload(graphKey(version, id), readFileSync(join(dir, GRAPH_FILE)));
    const manifest: ObjectManifest = {
      layout: OBJECT_LAYOUT_VERSION,
      version,
      createdAt: new Date().toISOString(),
      indexFormat: meta.formatVersion,
      skeleton: skeletonKey(version, id),
      graph: graphKey(version, id),
      graphVersion: meta.headsVersion,
      lists: encodeVersions(lists),
      blocks: encodeVersions(blocks),
      appliedLog: appliedLog || (previous?.appliedLog ?? 0),
      listHashes: Buffer.from(listHashes).toString('base64'),
      blockHashes: Buffer.from(blockHashes).toString('base64'),
      objects,
      bytes,
      reused,
    };
    if (!(await store.create(manifestKey(version), new TextEncoder().encode(JSON.stringify(manifest))))) {
      throw createError('STRATA_STORE_CONFLICT', `object store: manifest ${version} was published by another writer meanwhile`, 'manifest');
    }
    await store.put(LATEST_HINT, new TextEncoder().encode(String(version)));
    return manifest;
  } finally {
    await idx.close();
  }
}

/**
 * The indexer: apply the log batches the newest manifest does not hold to the embedded index in
 * `dir` (inserts as upserts, then deletes), and publish it as the next manifest recording the last
 * sequence applied. Returns the manifest, or null when the log had nothing new.
 */
export async function applyLog(dir: string, store: ObjectStore, onProgress?: PublishProgress): Promise<ObjectManifest | null> {
  const latest = await latestManifest(store);
  const applied = latest > 0 ? ((await readManifest(store, latest)).appliedLog ?? 0) : 0;
  const batches = await readLog(store, applied);
  if (batches.length === 0) return null;
  const index = await openIndex(dir);
  try {
    for (const b of batches) {
      if (b.ids.length > 0) await index.upsert(b.vectors, b.ids);
      if (b.deletes.length > 0) await index.delete(b.deletes);
    }
    await index.flush();
  } finally {
    await index.close(); // saves the graph file the publish needs
  }
  return publishIndex(dir, store, onProgress, batches[batches.length - 1].seq);
}

export interface ObjectIndexOptions {
  store: ObjectStore;
  /** The node's cache folder (skeletons, graphs and the posting cache). */
  cacheDir: string;
  /** Most bytes of posting lists and blocks the cache holds. Default 1 GiB. */
  cacheBytes?: number;
}

export interface ObjectSearchResult extends SearchResult {
  /** Rounds of object fetches this query waited for (0: all from the cache). */
  fetchRounds: number;
}

export interface ObjectSearchOptions extends SearchOptions {
  /**
   * 'strong': read the log's new batches first (one LIST, and GETs of what is new) so the answer
   * holds every write acknowledged before the call. 'eventual' (default): the log as last read
   * (`refreshLog`).
   */
  consistency?: 'strong' | 'eventual';
}

/**
 * The log's writes the manifest does not hold yet, kept in memory and searched exactly: the newest
 * vector of each id inserted since, and the ids deleted since (both shadow the index's answers).
 */
class LogTail {
  lastSeq = 0;
  private ids = new Uint32Array(64);
  /** Live rows' vectors, row-major (normalised for cosine); a deleted row's id is NO_ROW. */
  private rows: Float32Array;
  private count = 0;
  private readonly row = new Map<number, number>();
  /** Ids the index's answers must not show (replaced or deleted in the log). */
  readonly shadowed = new Set<number>();
  private dists = new Float32Array(64);

  constructor(
    private readonly dim: number,
    private readonly metric: Metric,
  ) {
    this.rows = new Float32Array(64 * dim);
  }

  apply(b: LogBatch): void {
    const dim = this.dim;
    for (let i = 0; i < b.ids.length; i++) {
      const id = b.ids[i];
      let r = this.row.get(id);
      if (r === undefined) {
        if (this.count === this.ids.length) this.grow();
        r = this.count++;
        this.row.set(id, r);
      }
      this.ids[r] = id;
      this.rows.set(b.vectors.subarray(i * dim, (i + 1) * dim), r * dim);
      if (this.metric === 'cosine') normalizeRows(this.rows.subarray(r * dim, (r + 1) * dim), dim);
      this.shadowed.add(id);
    }
    for (const id of b.deletes) {
      const r = this.row.get(id);
      if (r !== undefined) this.ids[r] = NO_ROW; // deleted: never returned
      this.shadowed.add(id);
    }
    this.lastSeq = b.seq;
  }

  private grow(): void {
    const ids = new Uint32Array(this.ids.length * 2);
    ids.set(this.ids);
    const rows = new Float32Array(ids.length * this.dim);
    rows.set(this.rows);
    this.ids = ids;
    this.rows = rows;
  }

  get size(): number {
    return this.count;
  }

  /** Exact distances of the live log rows to `q` (normalised for cosine), as [id, distance] (the native kernel). */
  score(q: Float32Array): Array<[number, number]> {
    if (this.dists.length < this.count) this.dists = new Float32Array(this.ids.length);
    batchKernel(this.metric)(q, 0, this.rows, 0, this.count, this.dim, this.dists, 0);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.count; i++) if (this.ids[i] !== NO_ROW) out.push([this.ids[i], this.dists[i]]);
    return out;
  }
}

/** A deleted log row (ids are u32; this one is never written as an id by the log's writers). */
const NO_ROW = 0xffffffff;

/** The node's folder of one manifest's skeleton and graph. */
const skeletonFolder = (version: number) => `index-${String(version).padStart(16, '0')}`;

async function readManifest(store: ObjectStore, version: number): Promise<ObjectManifest> {
  const raw = await store.get(manifestKey(version));
  if (!raw) throw createError('STRATA_INDEX_NOT_FOUND', `manifest ${version} is listed but missing`, 'store');
  return parseManifest(raw, manifestKey(version));
}

/** The manifest's skeleton and graph in the node's cache folder (downloaded once); returns the folder. */
async function localSkeleton(store: ObjectStore, manifest: ObjectManifest, cacheDir: string): Promise<string> {
  const dir = join(cacheDir, skeletonFolder(manifest.version));
  if (existsSync(join(dir, LMDB_FILE)) && existsSync(join(dir, GRAPH_VERSION_FILE))) return dir;
  rmSync(dir, { recursive: true, force: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const [skeleton, graph] = await store.getMany([manifest.skeleton, manifest.graph]);
  if (!skeleton || !graph) throw createError('STRATA_INDEX_CORRUPT', `manifest ${manifest.version} names a skeleton or graph that is missing`, 'manifest');
  writeFileSync(join(tmp, LMDB_FILE), skeleton);
  writeFileSync(join(tmp, GRAPH_FILE), graph);
  writeFileSync(join(tmp, GRAPH_VERSION_FILE), `${manifest.graphVersion}\n`);
  renameSync(tmp, dir);
  return dir;
}

/** A stateless query node's index: search only, answers equal the embedded index's. */
export class ObjectIndex {
  private log: LogTail;

  private constructor(
    /** The manifest served (follow moves it). */
    public manifest: ObjectManifest,
    private index: SpannIndex,
    private readonly postings: ObjectPostingStore,
    readonly store: ObjectStore,
    private readonly cacheDir: string,
  ) {
    this.log = this.newTail();
  }

  private newTail(): LogTail {
    const t = new LogTail(this.index.dimension, this.index.options.metric);
    t.lastSeq = this.manifest.appliedLog ?? 0;
    return t;
  }

  /**
   * Read the log's batches written since the last read (the writes the manifest does not hold yet);
   * returns how many. Log reads and manifest moves run one at a time, in call order: a batch is
   * applied once, in sequence order, to the tail of the manifest it follows.
   */
  refreshLog(): Promise<number> {
    return this.serial(async () => {
      const batches = await readLog(this.store, this.log.lastSeq);
      let applied = 0;
      for (const b of batches) {
        if (b.seq <= this.log.lastSeq) continue;
        if (b.ids.length > 0 && b.dim !== this.index.dimension) throw createError('STRATA_DIMENSION_MISMATCH', `log batch ${b.seq} holds ${b.dim}-d vectors, the index ${this.index.dimension}-d`, 'log');
        this.log.apply(b);
        applied++;
      }
      return applied;
    });
  }

  /** The last log sequence read (searches see every batch up to it). */
  get logSequence(): number {
    return this.log.lastSeq;
  }

  private chain: Promise<unknown> = Promise.resolve();

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  static async open(options: ObjectIndexOptions): Promise<ObjectIndex> {
    const { store, cacheDir } = options;
    const version = await latestManifest(store);
    if (version === 0) throw createError('STRATA_INDEX_NOT_FOUND', 'the object store holds no manifest under this prefix (publish an index first)', 'store');
    const manifest = await readManifest(store, version);
    const dir = await localSkeleton(store, manifest, cacheDir);
    const postings = new ObjectPostingStore(store, join(cacheDir, 'objects'), options.cacheBytes ?? 2 ** 30, decodeVersions(manifest.lists, 'lists'), decodeVersions(manifest.blocks, 'blocks'));
    try {
      const index = await openIndex(dir, { readOnly: true, postingStore: postings });
      return new ObjectIndex(manifest, index, postings, store, cacheDir);
    } catch (err) {
      await postings.close();
      throw err;
    }
  }

  /**
   * Move to the newest manifest if one was published since (returns whether it moved): its skeleton
   * and graph are downloaded, the posting cache is kept — entries of unchanged lists stay valid.
   * Searches already running finish on the old manifest.
   */
  follow(): Promise<boolean> {
    return this.serial(() => this.moveToLatest());
  }

  private async moveToLatest(): Promise<boolean> {
    const version = await latestManifest(this.store);
    if (version <= this.manifest.version) return false;
    const manifest = await readManifest(this.store, version);
    const dir = await localSkeleton(this.store, manifest, this.cacheDir);
    const lists = decodeVersions(manifest.lists, 'lists');
    const blocks = decodeVersions(manifest.blocks, 'blocks');
    const index = await openIndex(dir, { readOnly: true, postingStore: this.postings });
    const old = this.index;
    const oldVersion = this.manifest.version;
    this.index = index;
    this.manifest = manifest;
    this.postings.useManifest(lists, blocks);
    this.log = this.newTail(); // what the new manifest holds is no longer searched from the log
    await old.close();
    rmSync(join(this.cacheDir, skeletonFolder(oldVersion)), { recursive: true, force: true });
    return true;
  }

  get dimension(): number {
    return this.index.dimension;
  }

  /** What a node reports about the index it serves: the manifest's and the log tail's sizes. */
  describe(): { dimension: number; metric: string; spec: string; points: number; heads: number; manifest: number; appliedLog: number; logSequence: number; logRows: number } {
    const o = this.index.options;
    return {
      dimension: this.index.dimension,
      metric: o.metric,
      spec: o.spec,
      points: this.index.count,
      heads: this.index.built ? this.index.stats().heads : 0,
      manifest: this.manifest.version,
      appliedLog: this.manifest.appliedLog ?? 0,
      logSequence: this.log.lastSeq,
      logRows: this.log.size,
    };
  }

  /** The posting cache's counters (hits, misses, fetch rounds, bytes). */
  get cacheStats(): Readonly<ObjectCacheStats> {
    return this.postings.stats;
  }

  /**
   * k nearest neighbours, as SpannIndex.search, fetching what the cache lacks first; unscoped
   * searches also see the log's writes the manifest does not hold yet (searched exactly).
   */
  async search(query: Float32Array | number[], k: number, options: ObjectSearchOptions = {}): Promise<ObjectSearchResult> {
    const { consistency, ...searchOptions } = options;
    if (consistency === 'strong') await this.refreshLog();
    const scoped = searchOptions.tenant !== undefined || searchOptions.filter !== undefined;
    const shadow = scoped ? 0 : this.log.shadowed.size;
    // Ask for more than k when log writes shadow some of the index's answers.
    const want = k + Math.min(shadow, 256);
    let r: SearchResult;
    let round = 0;
    for (; ; round++) {
      this.postings.clearMissing();
      r = this.index.search(query, want, searchOptions);
      if (!this.postings.hasMissing) break;
      if (round >= MAX_ROUNDS) throw createError('STRATA_INTERNAL', `a query still lacked posting objects after ${MAX_ROUNDS} fetch rounds`, 'store');
      await this.postings.fetchMissing();
    }
    if (scoped || (shadow === 0 && this.log.size === 0)) return { ...r, ids: r.ids.subarray(0, k), distances: r.distances.subarray(0, k), fetchRounds: round };
    // Merge: the index's answers not shadowed by the log, and the log's live rows, nearest first.
    const q = Float32Array.from(query as ArrayLike<number>);
    if (this.index.options.metric === 'cosine') normalizeRows(q, q.length);
    const merged: Array<[number, number]> = [];
    for (let i = 0; i < r.ids.length; i++) if (!this.log.shadowed.has(r.ids[i])) merged.push([r.ids[i], r.distances[i]]);
    merged.push(...this.log.score(q));
    merged.sort((a, b) => a[1] - b[1]);
    const top = merged.slice(0, k);
    return { ...r, ids: Uint32Array.from(top, (t) => t[0]), distances: Float32Array.from(top, (t) => t[1]), fetchRounds: round };
  }

  async close(): Promise<void> {
    await this.index.close();
    await this.postings.close();
  }
}
