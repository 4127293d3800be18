/**
 * The SPANN index: heads + hnswlib graph in memory, posting lists in LMDB.
 * `createIndex` / `openIndex` are the entry points; see ARCHITECTURE.md for the data flow.
 */
import { memoryLimitBytes } from '../util/memory.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Piscina } from 'piscina';
import { createError } from '../errors.js';
import type { HeadGraph } from './head-graph.js';
import {
  type CreateOptions,
  DEFAULT_INDEX_OPTIONS,
  DEFAULT_RUNTIME_OPTIONS,
  DEFAULT_SEARCH_PARAMS,
  type IndexOptions,
  type RuntimeOptions,
  type SearchParams,
  effectivePostingLimit,
  resolveIndexOptions,
  resolveRuntimeOptions,
  resolveSearchParams,
} from './options.js';
import { buildIndex, type BuildCallOptions, type BuildStats } from './build.js';
import { GroupCommit } from './write-queue.js';
import { ScopeCache } from './scope-cache.js';
import { MemoryPostingStore, type PostingStore } from '../storage/posting-store.js';
export type { BuildCallOptions, BuildProgress, BuildStage, BuildStats } from './build.js';
import { type Plan, type SearchStats, type SearcherConfig, SpannSearcher, STATS_SLOTS, emptyStats } from './searcher.js';
import { createCodec, restoreCodec } from './codecs/codec.js';
import { parseSpec } from './spec.js';
import { PcaTransform } from './codecs/pca.js';
import { NO_ID } from './topk.js';
import { CALIBRATION_FORMAT, CALIBRATION_K, type CalibrationSample, MIN_CALIBRATION_VECTORS, budgetFor, measureCurve, recomputeTruth } from './calibration.js';
import { checkIds, checkK, checkQuery, checkVectors, flattenRows, toFloat32 } from './validate.js';
import { FORMAT_VERSION, GRAPH_FILE, IndexStore } from '../storage/index-store.js';
import type { CalibrationRecord, IndexMeta } from '../storage/records.js';
import { RoaringBitmap32 } from 'roaring-wasm';
import { AttributeIndex } from './attributes.js';
import type { Filter } from './filter.js';
import type { PlanChoice, Scope } from './scope.js';
import { addRuns } from './bitmaps.js';
import { createPool, sharedFloat32, sharedUint32, toShared } from '../util/workers.js';
import { Tombstones } from './tombstones.js';
import { IndexWriter, removeSlotRuns, type WriteCounts, type WriteEffects, type WriteKind, type WriteOptions, type WriteRequest, type WriteTarget, checkWrite } from './writer.js';
import { type HealthReport, inspectIndex } from './maintenance.js';
import { followHeads, loadGraph, removeGraph, saveGraph, savedGraphVersion } from './graph-sync.js';
import { DEFAULT_TENANT, Tenant, TenantCatalog, type TenantInfo, type TenantRecord, checkTenantName, detailsOf, runsOf } from './tenants.js';


/** Who a search may see: one tenant's vectors and/or those matching a filter (filter.ts). */
export interface SearchScope {
  tenant?: string;
  filter?: Filter;
}

export type SearchOptions = Partial<SearchParams> & SearchScope;

/** What a compaction did. */
export interface CompactReport {
  /** Posting entries removed (tombstones applied, replicas dropped by merges). */
  entriesRemoved: number;
  headsMerged: number;
  /** Vectors moved to another list by merges and the splits they caused. */
  vectorsMoved: number;
  diskBytesBefore: number;
  diskBytesAfter: number;
  seconds: number;
}



export interface SearchResult {
  /** External ids, nearest first (at most k). */
  ids: Uint32Array;
  distances: Float32Array;
  stats: SearchStats;
  /**
   * What ran: 'probe' (posting lists), 'exact' (scan of the allowed vectors), 'cells' (the tenant's
   * nearest coarse cells), 'probe+exact' (a probe that found fewer than k matches, completed by the
   * exact scan) or 'empty' (nothing is allowed).
   */
  plan: Plan;
  /** Vectors the query was allowed to return (its tenant ∩ its filter; the index count if unscoped). */
  matched: number;
}

export interface BatchSearchResult {
  /** k slots per query, row-major; missing results hold id 0xFFFFFFFF and distance Infinity. */
  ids: Uint32Array;
  distances: Float32Array;
  k: number;
  queries: number;
  /** Totals over all queries. */
  stats: SearchStats;
  /** The planner's choice for the batch (one scope for every query); see SearchResult.plan. */
  plan: Plan;
  matched: number;
}

export interface IndexStats {
  spec: string;
  /** Posting payload bytes per entry (after PCA and the codec). */
  bytesPerVector: number;
  dimension: number;
  metric: string;
  state: IndexMeta['state'];
  count: number;
  heads: number;
  postingLimit: number;
  postingEntries: number;
  replicasPerVector: number;
  longestList: number;
  diskBytes: number;
  formatVersion: number;
  /** Deleted vectors whose entries may remain in lists until compaction. */
  tombstones: number;
  /** Committed write batches (the build counts as one). */
  version: number;
  tenants: number;
  /** Attribute names and types (index-wide schema). */
  attributes: Record<string, string>;
}

/** Lists rewritten per compaction transaction. */
const COMPACT_HEADS_PER_TXN = 512;

export class SpannIndex {
  readonly dir: string;
  private store: IndexStore;
  private meta: IndexMeta;
  private searcher: SpannSearcher | undefined;
  private graph: HeadGraph | undefined;
  /** Deleted slots (their entries stay in lists until a split or compaction). */
  private tombstones: Tombstones;
  /** Made on the first write. */
  private writer: IndexWriter | undefined;
  /** Writes waiting for the next group commit. */
  private readonly commits = new GroupCommit<WriteRequest, WriteCounts>(
    (reqs) => this.applyWrites(reqs).counts,
    () => (this.closed ? `the index at ${JSON.stringify(this.dir)} was closed` : null),
  );
  private pool: Piscina | undefined;
  private closed = false;
  /** Batch searches in progress (close waits for them). */
  private readonly running = new Set<Promise<unknown>>();
  /** Bytes of one posting entry (slot + code), for the planner. */
  private entryBytes = 4;
  private tenants = new TenantCatalog();
  private attrs = AttributeIndex.empty();
  /** Every live slot. */
  private live = new RoaringBitmap32();
  /** Resolved (tenant, filter) scopes and tenants' head bitsets (scope-cache.ts). */
  private readonly scopes = new ScopeCache();
  /** The recall curve (calibration.ts), or undefined before a build measured one. */
  private calibration: CalibrationRecord | undefined;
  /** maxLists for a target recall, from the curve (null without one): what searches resolve params with. */
  private readonly budget = (targetRecall: number): number | null => (this.calibration ? budgetFor(this.calibration, targetRecall) : null);

  /** @internal use createIndex / openIndex */
  constructor(
    dir: string,
    store: IndexStore,
    meta: IndexMeta,
    graph?: HeadGraph,
    private readonly readOnly = false,
    /** This handle's runtime settings (never stored). */
    readonly runtime: RuntimeOptions = DEFAULT_RUNTIME_OPTIONS,
  ) {
    this.dir = dir;
    this.store = store;
    this.meta = meta;
    this.tombstones = Tombstones.load(store, meta.slotCount);
    if (meta.state === 'built') this.loadCatalog();
    if (graph) this.attachGraph(graph);
  }

  /** The calibration as stored (no check that it matches the index: it is advisory). */
  private loadCalibration(): void {
    const c = this.store.meta.getCalibration();
    this.calibration = c && c.format === CALIBRATION_FORMAT && c.maxLists.length > 0 ? c : undefined;
  }

  /** Tenants, attribute indexes and live slots (tenant runs minus tombstones), from LMDB. */
  private loadCatalog(): void {
    const records: Array<[string, TenantRecord]> = [];
    this.store.tenants.forEach((name, rec) => {
      records.push([name, rec]);
      addRuns(this.live, runsOf(name, rec));
    });
    if (this.tombstones.count > 0) {
      const dead = this.tombstones.toBitmap();
      this.live.andNotInPlace(dead);
      dead.dispose();
    }
    for (const [name, rec] of records) this.tenants.add(TenantCatalog.restore(name, rec, () => this.store.tenants.details(name), this.tombstones.count > 0 ? this.live : undefined));
    this.attrs = AttributeIndex.open(this.store.attributes.readAll(), this.store.attributes);
    this.loadCalibration();
  }

  get options(): IndexOptions {
    return this.meta.options;
  }

  get dimension(): number {
    return this.meta.options.dimension;
  }

  get count(): number {
    return this.meta.count;
  }

  /** True once build() has run (an empty index answers searches with STRATA_INDEX_NOT_BUILT). */
  get built(): boolean {
    return this.meta.state === 'built';
  }

  private attachGraph(graph: HeadGraph): void {
    const cfg = searcherConfig(this.meta, this.store);
    this.entryBytes = 4 + cfg.codec.bytesPerVector;
    this.graph = graph;
    this.searcher = new SpannSearcher(this.store, graph, cfg);
    this.searcher.setTombstones(this.tombstones.count > 0 ? this.tombstones.bits : null);
  }

  private assertOpen(): void {
    if (this.closed) throw createError('STRATA_INDEX_CLOSED', `the index at ${JSON.stringify(this.dir)} was closed`, 'index');
  }

  private assertBuilt(): SpannSearcher {
    this.assertOpen();
    if (this.meta.state !== 'built' || !this.searcher) {
      throw createError('STRATA_INDEX_NOT_BUILT', `the index at ${JSON.stringify(this.dir)} has no data: call build() first`, 'index');
    }
    return this.searcher;
  }

  /**
   * Bulk build from row-major vectors (Float32Array of n×dim, or an array of vectors). `ids` are
   * unsigned 32-bit external ids (default 0..n-1). Memory: the vectors (one shared copy) plus about
   * 8 bytes × replicas per vector of assignment state; posting lists are written in bounded
   * transactions as they are formed.
   */
  async build(vectors: Float32Array | number[][], ids?: Uint32Array | number[], call: BuildCallOptions = {}): Promise<BuildStats> {
    this.assertOpen();
    if (this.meta.state === 'built') {
      throw createError('STRATA_INDEX_EXISTS', `the index at ${JSON.stringify(this.dir)} is already built`, 'index');
    }
    const built = await buildIndex(this.dir, this.store, this.meta, this.runtime, vectors, ids, call);
    this.meta = built.meta;
    for (const t of built.tenants) {
      t.release(); // details are read back from LMDB for the tenants that get searched
      this.tenants.add(t);
      addRuns(this.live, t.runs);
    }
    this.attrs.dispose();
    this.attrs = AttributeIndex.open(built.attributeRecords, this.store.attributes);
    this.attachGraph(built.graph);
    let curve: CalibrationRecord | null = null;
    if (built.sample) {
      const t = performance.now();
      call.onProgress?.({ stage: 'calibrate', done: 0, total: 1 });
      curve = this.measureRecall(built.sample, this.meta.version);
      const s = (performance.now() - t) / 1000;
      built.stats.stageSeconds.calibrate += s;
      built.stats.seconds += s;
      call.onProgress?.({ stage: 'calibrate', done: 1, total: 1 });
    }
    // The build's last write: its meta (readers see the index from here on) with its recall curve.
    this.store.write(() => {
      if (curve) this.store.meta.putCalibration(curve);
      this.store.meta.put(this.meta);
    });
    this.calibration = curve ?? undefined;
    return built.stats;
  }

  /** Measure the recall curve again on a sample and commit it as a write of its own (version + 1, so read-only handles reload it). */
  private recalibrate(sample: CalibrationSample): CalibrationRecord | null {
    const meta: IndexMeta = { ...this.meta, version: this.meta.version + 1 };
    const record = this.measureRecall(sample, meta.version);
    if (!record) return null;
    this.store.write(() => {
      this.store.meta.putCalibration(record);
      this.store.meta.put(meta);
    });
    this.meta = meta;
    this.calibration = record;
    return record;
  }

  /** The recall curve of a calibration sample, measured with this handle's searcher (null: too few scoreable queries). */
  private measureRecall(sample: CalibrationSample, version: number): CalibrationRecord | null {
    const searcher = this.assertBuilt();
    const dim = this.dimension;
    const ids = new Uint32Array(CALIBRATION_K + 1);
    const dist = new Float32Array(CALIBRATION_K + 1);
    const stats = emptyStats();
    const search = (q: Float32Array, k: number, maxLists: number) => {
      const found = searcher.search(q, 0, k, { ...DEFAULT_SEARCH_PARAMS, maxLists, prefetch: false }, ids, dist, 0, stats);
      return ids.subarray(0, found);
    };
    const isLive = (id: number) => this.store.ids.slotOf(id) !== undefined;
    return measureCurve(sample, dim, this.meta.liveHeads, search, isLive, { version, count: this.meta.count });
  }

  /**
   * The recall curve searches use for `targetRecall`: recall@10 measured at each budget (maxLists) on
   * a sample of the index's own vectors; null when the index has none (built before format 8, too
   * small, or calibrationQueries 0).
   */
  recallCurve(): { k: number; queries: number; points: Array<{ maxLists: number; recall: number }>; version: number; count: number; seconds: number } | null {
    this.assertOpen();
    const c = this.calibration;
    if (!c) return null;
    return { k: c.k, queries: c.queries, points: c.maxLists.map((maxLists, i) => ({ maxLists, recall: c.recall[i] })), version: c.version, count: c.count, seconds: c.seconds };
  }

  /** maxLists a search with this targetRecall reads (the fixed default without a calibration). */
  budgetFor(targetRecall: number): number {
    return resolveSearchParams({ targetRecall }, this.budget).maxLists;
  }

  /**
   * Measure the recall curve again on the stored sample (`strata tune`). With `exactTruth`, the sample's
   * ground truth is first recomputed by exact search over the index's stored vectors (slow on large
   * indexes: every list is read per sample query) — after many inserts the stored truth misses the
   * new vectors.
   */
  async calibrate(options: { exactTruth?: boolean } = {}): Promise<NonNullable<ReturnType<SpannIndex['recallCurve']>>> {
    this.assertBuilt();
    if (this.readOnly) throw createError('STRATA_INVALID_OPTION', `the index at ${JSON.stringify(this.dir)} was opened read-only`, 'readOnly');
    await this.flush();
    const stored = this.store.meta.getCalibration();
    if (!stored) throw createError('STRATA_NOT_CALIBRATED', `the index at ${JSON.stringify(this.dir)} has no calibration sample (built before format 8, with calibrationQueries 0, or under ${MIN_CALIBRATION_VECTORS} vectors): rebuild it to calibrate`, 'calibration');
    const sample = options.exactTruth ? recomputeTruth(stored, this.dimension, (q, k) => this.search(q, k, { bypassIndex: true, maxLists: 1 }).ids) : stored;
    if (!this.recalibrate(sample)) throw createError('STRATA_NOT_CALIBRATED', `too few sample vectors of ${JSON.stringify(this.dir)} are still live to measure recall: rebuild it to calibrate`, 'calibration');
    return this.recallCurve()!;
  }



  /**
   * A read-only handle follows writers in other threads or processes: this moves it to the newest
   * committed state (every search of a read-only index calls it; when nothing was committed it costs
   * one small read). Writable handles are always current.
   */
  refresh(): void {
    if (!this.readOnly || this.meta.state !== 'built' || !this.graph) return;
    this.store.refreshSnapshot();
    if (this.store.meta.version() === this.meta.version) return;
    const meta = readMeta(this.store, this.dir);
    if (meta.version === this.meta.version) return;
    this.meta = meta;
    this.writer = undefined; // its slot -> tenant map (get) describes the old snapshot
    this.tombstones = Tombstones.load(this.store, meta.slotCount);
    this.tenants.dispose();
    this.tenants = new TenantCatalog();
    this.live.dispose();
    this.live = new RoaringBitmap32();
    this.attrs.dispose();
    this.loadCatalog();
    const graph = followHeads(this.graph, this.store, this.dir, meta);
    if (graph !== this.graph) this.attachGraph(graph);
    else {
      this.searcher!.reconfigure(meta);
      this.searcher!.setTombstones(this.tombstones.count > 0 ? this.tombstones.bits : null);
    }
    this.scopes.clear();
  }

  /**
   * k nearest neighbours of one query, with per-query stats. `options` tunes the search
   * (SearchParams) and may scope it: `tenant` (only that tenant's vectors) and `filter` (filter.ts).
   */
  search(query: Float32Array | number[], k: number, options?: SearchOptions): SearchResult {
    if (this.readOnly) this.refresh();
    const searcher = this.assertBuilt();
    const q = checkQuery(query, this.dimension);
    checkK(k);
    const p = resolveSearchParams(options, this.budget);
    const ids = new Uint32Array(k);
    const distances = new Float32Array(k);
    const stats = emptyStats();
    const scoped = this.planScope(options, p);
    const found = searcher.search(q, 0, k, p, ids, distances, 0, stats, scoped?.scope ?? null, scoped?.plan ?? 'probe');
    return { ids: ids.subarray(0, found), distances: distances.subarray(0, found), stats, plan: searcher.lastPlan, matched: scoped ? scoped.scope.count : this.meta.count };
  }

  /**
   * Search many queries (row-major n×dim), all with the same options and scope, on a piscina pool of
   * `options.threads` workers (made on the first call, kept until close): each worker holds its own
   * copy of the head graph and its own LMDB read view; the scope is resolved once and shared.
   */
  async searchBatch(queries: Float32Array | number[][], k: number, options?: SearchOptions): Promise<BatchSearchResult> {
    this.assertBuilt();
    const dim = this.dimension;
    const flat = Array.isArray(queries) ? flattenRows(queries, dim, 'queries') : toFloat32(queries, 'queries');
    const nq = checkVectors(flat, dim, 'queries');
    checkK(k);
    const p = resolveSearchParams(options, this.budget);
    const scoped = this.planScope(options, p);
    const scope = scoped?.scope ?? null;
    const plan = scoped?.plan ?? 'probe';
    const q = toShared(flat);
    const ids = sharedUint32(nq * k);
    const distances = sharedFloat32(nq * k);
    const statsOut = new Float64Array(new SharedArrayBuffer(nq * STATS_SLOTS * 8));
    if (this.runtime.postings === 'memory') {
      // Worker threads open the index from disk: lists held in this handle's memory are searched here.
      ids.fill(NO_ID);
      distances.fill(Infinity);
      const stats = emptyStats();
      let ran: Plan = plan;
      for (let i = 0; i < nq; i++) {
        const r = this.search(flat.subarray(i * dim, (i + 1) * dim), k, options);
        ids.set(r.ids, i * k);
        distances.set(r.distances, i * k);
        stats.listsProbed += r.stats.listsProbed;
        stats.vectorsScanned += r.stats.vectorsScanned;
        stats.bytesRead += r.stats.bytesRead;
        stats.listsPrefetched += r.stats.listsPrefetched;
        ran = r.plan;
      }
      return { ids, distances, k, queries: nq, stats, plan: ran, matched: scope ? scope.count : this.meta.count };
    }
    // 'shared' head graph: this thread chooses every query's lists, the workers only scan them.
    const mode = this.runtime.batchGraph;
    const shared = !scope && !p.bypassIndex && (mode === 'shared' || (mode === 'auto' && this.searcher!.config.prefetchAuto));
    const listStride = Math.max(1, Math.min(p.maxLists, this.meta.headCount));
    const lists = shared ? sharedUint32(nq * listStride) : null;
    const listCounts = shared ? sharedUint32(nq) : null;
    if (lists && listCounts) for (let i = 0; i < nq; i++) listCounts[i] = this.searcher!.chooseLists(flat, i * dim, p, lists, i * listStride);
    this.pool ??= createPool('index/search-worker', this.runtime.threads);
    const tasks: Promise<void>[] = [];
    for (let s = 0, chunk = batchChunk(nq, this.pool.maxThreads); s < nq; s += chunk) {
      tasks.push(
        this.pool.run({ dir: this.dir, readAhead: this.runtime.readAhead, lists, listCounts, listStride, queries: q, start: s, end: Math.min(nq, s + chunk), k, params: p, ids, distances, stats: statsOut, scope, plan }),
      );
    }
    const all = Promise.all(tasks);
    this.running.add(all);
    try {
      await all;
    } finally {
      this.running.delete(all);
    }
    const stats = emptyStats();
    let fallbacks = 0;
    for (let i = 0; i < nq; i++) {
      stats.listsProbed += statsOut[i * STATS_SLOTS];
      stats.vectorsScanned += statsOut[i * STATS_SLOTS + 1];
      stats.bytesRead += statsOut[i * STATS_SLOTS + 2];
      fallbacks += statsOut[i * STATS_SLOTS + 3];
      stats.listsPrefetched += statsOut[i * STATS_SLOTS + 4];
    }
    const ranPlan: Plan = scope && scope.count === 0 ? 'empty' : plan === 'probe' && fallbacks > 0 ? 'probe+exact' : plan;
    return { ids, distances, k, queries: nq, stats, plan: ranPlan, matched: scope ? scope.count : this.meta.count };
  }

  /**
   * The tenant and filter of a search call as a Scope, and the plan for it; null when the call has
   * neither. Scopes are cached by tenant and parsed filter (only checked filters get that far); a
   * probe also needs the tenant's heads and the cells plan its cells, filled in once per scope.
   */
  private planScope(options: SearchOptions | undefined, p: SearchParams): { scope: Scope; plan: PlanChoice } | null {
    return this.scopes.plan(options, p, { tenants: this.tenants, attrs: this.attrs, live: this.live, meta: this.meta, entryBytes: this.entryBytes });
  }

  /**
   * Add vectors under new ids (an id the index holds is STRATA_ID_EXISTS: use upsert). Each vector is
   * assigned to its nearest heads like a built one; lists that grow past the cap split. `tenants`
   * names the tenant of every row (one name for all; default "default"); a new name creates the
   * tenant. Resolves once the write is committed to LMDB and flushed to disk: from then on it
   * survives a crash and every search sees it. Writes issued together are committed together.
   */
  insert(vectors: Float32Array | number[][], ids: Uint32Array | number[], options: WriteOptions = {}): Promise<WriteCounts> {
    return this.enqueue('insert', vectors, ids, options);
  }

  /** Insert, replacing the vector of any id the index already holds (its old entries become tombstones). */
  upsert(vectors: Float32Array | number[][], ids: Uint32Array | number[], options: WriteOptions = {}): Promise<WriteCounts> {
    return this.enqueue('upsert', vectors, ids, options);
  }

  /**
   * Delete vectors by id (ids the index does not hold are skipped: `deleted` counts the others).
   * Durable, and invisible to every later search, once the promise resolves.
   */
  delete(ids: Uint32Array | number[]): Promise<WriteCounts> {
    return this.enqueue('delete', null, ids, {});
  }

  /** The tenant of a live id, or null when the index does not hold it (an exact lookup in LMDB). */
  get(id: number): { id: number; tenant: string } | null {
    this.assertOpen();
    if (this.readOnly) this.refresh();
    const [checked] = checkIds([id], 1, 'id');
    const slot = this.store.ids.slotOf(checked);
    if (slot === undefined) return null;
    return { id: checked, tenant: this.writerFor().ownersOf(this.tenants).find(slot) ?? DEFAULT_TENANT };
  }

  /**
   * Health of the whole index: list length histogram, replicas per vector, tombstoned entries,
   * orphaned ids and every broken invariant (maintenance.ts). Reads every list: for maintenance and
   * tests, not the query path.
   */
  health(): HealthReport {
    this.assertBuilt();
    return inspectIndex(this.store, this.meta, this.graph!, this.tombstones, this.tenants);
  }

  /**
   * Apply tombstones and rebalance: every list and block is rewritten without its deleted entries,
   * lists left with fewer than mergeFraction × postingLimit live vectors are merged into their
   * neighbours (their heads removed), over-long lists split; then the graph file is saved and the
   * head log trimmed. Runs in bounded transactions, yielding between them, so searches and writes
   * go on meanwhile (writes wait for the step in progress). LMDB reuses the freed pages for later
   * writes but never shrinks its file: with `reclaimDisk` the environment is then rewritten without
   * its free pages (a compacting copy, switched in by rename; writes wait for it). Only reclaim when
   * no other process or read-only handle has the index open.
   */
  async compact(options: { reclaimDisk?: boolean } = {}): Promise<CompactReport> {
    this.assertBuilt();
    if (this.readOnly) throw createError('STRATA_INVALID_OPTION', `the index at ${JSON.stringify(this.dir)} was opened read-only`, 'readOnly');
    await this.flush();
    const t0 = performance.now();
    const before = { entries: this.meta.postingEntries, heads: this.meta.liveHeads, disk: this.diskBytes() };
    const heads = this.store.heads.numbers();
    const blocks = Math.ceil(this.meta.slotCount / Math.max(1, this.meta.blockSlots));
    const mergeMin = Math.floor(this.meta.options.mergeFraction * this.meta.postingLimit);
    const steps = Math.max(1, Math.ceil(heads.length / COMPACT_HEADS_PER_TXN));
    let moved = 0;
    for (let i = 0; i < steps; i++) {
      const part = heads.slice(i * COMPACT_HEADS_PER_TXN, (i + 1) * COMPACT_HEADS_PER_TXN);
      const b0 = Math.floor((i * blocks) / steps), b1 = Math.floor(((i + 1) * blocks) / steps);
      await this.flush();
      const e = this.applyEffects(() => this.writerFor().maintain(this.writeTarget(), part, b0, b1, mergeMin, i === steps - 1));
      moved += e.moved;
      await new Promise<void>((r) => setImmediate(r));
    }
    this.saveGraph();
    if (options.reclaimDisk) await this.rewriteFile();
    // Merged lists change what a budget buys: the curve is measured again on the stored sample.
    const stored = this.store.meta.getCalibration();
    if (stored) this.recalibrate(stored);
    return {
      entriesRemoved: before.entries - this.meta.postingEntries,
      headsMerged: before.heads - this.meta.liveHeads,
      vectorsMoved: moved,
      diskBytesBefore: before.disk,
      diskBytesAfter: this.diskBytes(),
      seconds: (performance.now() - t0) / 1000,
    };
  }

  /** Switch to a compacted copy of the LMDB file (writes queue meanwhile; batch workers restart). */
  private async rewriteFile(): Promise<void> {
    await this.commits.exclusive(async () => {
      if (this.pool) {
        await this.pool.destroy(); // its threads hold the old environment
        this.pool = undefined;
      }
      this.store = await this.store.rewriteCompacted();
      this.writer = undefined;
      this.attrs.dispose();
      this.attrs = AttributeIndex.open(this.store.attributes.readAll(), this.store.attributes);
      this.attachGraph(this.graph!);
    });
  }

  /** Save the head graph (and its version) when it is newer than the file; trim the head log. */
  private saveGraph(): void {
    if (!this.graph || this.readOnly || this.graph.version === savedGraphVersion(this.dir)) return;
    saveGraph(this.graph, this.dir);
    const v = this.graph.version;
    this.store.write(() => this.store.heads.trimLog(v));
  }

  private writeTarget(): WriteTarget {
    return { meta: this.meta, graph: this.graph!, tenants: this.tenants, attrs: this.attrs, tombstones: this.tombstones };
  }

  /** Resolves when every write issued so far is committed (or failed). */
  flush(): Promise<void> {
    return this.commits.flush();
  }

  private writerFor(): IndexWriter {
    return (this.writer ??= new IndexWriter(this.store, this.meta));
  }

  private enqueue(kind: WriteKind, vectors: Float32Array | number[][] | null, ids: Uint32Array | number[], options: WriteOptions): Promise<WriteCounts> {
    try {
      this.assertBuilt();
      if (this.readOnly) throw createError('STRATA_INVALID_OPTION', `the index at ${JSON.stringify(this.dir)} was opened read-only`, 'readOnly');
      return this.commits.submit(checkWrite(kind, vectors, ids, options, this.dimension, this.meta.options.metric));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** One transaction of writes. */
  private applyWrites(reqs: WriteRequest[]): WriteEffects {
    return this.applyEffects(() => this.writerFor().apply(reqs, this.writeTarget()));
  }

  /** Run one writer transaction, then bring memory in line with what it committed. */
  private applyEffects(transact: () => WriteEffects): WriteEffects {
    const searcher = this.assertBuilt();
    const graph = this.graph!;
    let e: WriteEffects;
    try {
      e = transact();
    } catch (err) {
      // Attribute headers may have changed in memory before the rollback: reread them.
      this.attrs.dispose();
      this.attrs = AttributeIndex.open(this.store.attributes.readAll(), this.store.attributes);
      throw err;
    }
    this.meta = e.meta;
    this.live.addMany(e.added);
    this.live.removeMany(e.removed);
    for (const d of e.tenants) {
      const name = d.name;
      d.details.heads.dispose();
      this.tenants.replace(new Tenant(name, Uint32Array.from(d.runs), d.cellCount, null, () => detailsOf(name, this.store.tenants.details(name)), d.count));
    }
    graph.version = this.meta.headsVersion;
    graph.count = Math.max(graph.count, this.meta.headCount);
    searcher.reconfigure(this.meta);
    searcher.setTombstones(this.tombstones.count > 0 ? this.tombstones.bits : null);
    this.scopes.clear();
    return e;
  }

  /** Every tenant with its vector count, by name. */
  listTenants(): TenantInfo[] {
    this.assertOpen();
    return this.tenants.list();
  }

  /** Whether the tenant exists (holds vectors, or was created empty). */
  hasTenant(name: string): boolean {
    this.assertOpen();
    return this.tenants.get(name) !== undefined;
  }

    /** Create an empty tenant; false if it already exists. */
  createTenant(name: string): boolean {
    this.assertOpen();
    checkTenantName(name, 'tenant');
    if (this.tenants.get(name)) return false;
    const t = new Tenant(name, new Uint32Array(0), 0, { heads: new RoaringBitmap32(), cellIds: new Uint32Array(0), cellStarts: new Uint32Array(0) }, () =>
      detailsOf(name, this.store.tenants.details(name)),
    );
    this.store.write(() => this.store.tenants.put(name, t.toRecord(), t.detailsRecord()));
    this.tenants.add(t);
    this.scopes.clearScopes();
    return true;
  }

  /**
   * Delete a tenant and all its data in one LMDB transaction: its entries in every posting list that
   * holds any, its rows in the slot blocks, its full-precision vectors, its attribute values and its
   * slot-map entries. Returns the number of vectors removed. Head vectors chosen from its data stay
   * as routing points (no id of the tenant is reachable through them) until the index is rebuilt.
   */
  deleteTenant(name: string): number {
    this.assertOpen();
    const t = this.tenants.require(name, 'tenant');
    const removed = t.count;
    const runs = t.runs;
    try {
      this.store.write(() => {
        // Every list, block and slot record edit goes through the writer's functions.
        const entriesRemoved = removeSlotRuns(this.store, this.meta, this.tenants.details(t).heads.toUint32Array(), runs);
        const slots = t.slotBitmap();
        try {
          this.attrs.removeSlots(slots);
        } finally {
          slots.dispose();
        }
        for (const [attr, rec] of this.attrs.toRecords()) this.store.attributes.put(attr, rec);
        this.store.tenants.delete(name);
        const meta: IndexMeta = { ...this.meta, count: this.meta.count - removed, postingEntries: this.meta.postingEntries - entriesRemoved, version: this.meta.version + 1 };
        this.store.meta.put(meta);
        this.meta = meta;
      });
    } catch (err) {
      // The transaction rolled back: reload what was changed in memory from the store.
      this.attrs.dispose();
      this.attrs = AttributeIndex.open(this.store.attributes.readAll(), this.store.attributes);
      this.meta = readMeta(this.store, this.dir);
      throw err;
    }
    for (let r = 0; r < runs.length; r += 2) this.live.removeRange(runs[r], runs[r + 1]);
    if (this.writer) this.writer.owners = null;
    this.scopes.forgetTenant(name);
    this.tenants.remove(name);
    return removed;
  }

  stats(): IndexStats {
    this.assertOpen();
    const m = this.meta;
    return {
      spec: m.spec,
      bytesPerVector: restoreCodec(m.codec).bytesPerVector,
      dimension: m.options.dimension,
      metric: m.options.metric,
      state: m.state,
      count: m.count,
      heads: m.liveHeads,
      postingLimit: m.postingLimit,
      postingEntries: m.postingEntries,
      replicasPerVector: m.count > 0 ? m.postingEntries / m.count : 0,
      longestList: m.longestList,
      diskBytes: this.diskBytes(),
      formatVersion: m.formatVersion,
      tombstones: m.tombstones,
      version: m.version,
      tenants: this.tenants.size,
      attributes: Object.fromEntries(this.attrs.names.map((n) => [n, this.attrs.type(n)!])),
    };
  }

  /** LMDB file plus head graph file. */
  diskBytes(): number {
    const graphFile = join(this.dir, GRAPH_FILE);
    let total = this.store.diskBytes();
    if (existsSync(graphFile)) total += IndexStore.fileBytes(graphFile);
    return total;
  }

  /** Close the index: pending writes are committed and searches already running finish first. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.saveGraph();
    this.closed = true;
    if (this.pool) await this.pool.destroy();
    await this.store.close();
    this.tenants.dispose();
    this.attrs.dispose();
    this.live.dispose();
  }
}

/**
 * Queries per worker task of a batch search: about 4 tasks per thread so the threads finish together,
 * but at least 4 queries per task (a task is a message each way and a thread wake-up, which costs
 * more than a query) and at most 256.
 */
export function batchChunk(queries: number, threads: number): number {
  return Math.min(256, Math.max(4, Math.ceil(queries / (threads * 4))));
}






/** @internal How a searcher reads this index (shared with the batch-search worker). */
export function searcherConfig(meta: IndexMeta, store: IndexStore): SearcherConfig {
  return {
    cells: meta.cellCount > 0 ? store.meta.readCells(meta.cellCount, meta.options.dimension) : null,
    cellCount: meta.cellCount,
    dim: meta.options.dimension,
    metric: meta.options.metric,
    headCount: meta.headCount,
    slotCount: meta.slotCount,
    blockSlots: meta.blockSlots,
    meanListLength: meta.liveHeads > 0 ? meta.postingEntries / meta.liveHeads : 0,
    codec: restoreCodec(meta.codec),
    blockCodec: meta.blockCodec ? restoreCodec(meta.blockCodec) : null,
    pca: meta.pca ? PcaTransform.restore(meta.pca) : null,
    refine: parseSpec(meta.spec).refine,
    prefetchAuto: store.diskBytes() > memoryLimitBytes() / 2,
  };
}

/** The handle's runtime settings among createIndex/openIndex options. */
function runtimePart(o: Partial<RuntimeOptions>): Partial<RuntimeOptions> {
  return { threads: o.threads, postings: o.postings, readAhead: o.readAhead, batchGraph: o.batchGraph };
}

/** Create a new, empty index in `dir` (created if missing). Fails if an index is already there. */
export async function createIndex(dir: string, options: CreateOptions): Promise<SpannIndex> {
  if (typeof dir !== 'string' || dir.length === 0) throw createError('STRATA_INVALID_OPTION', 'dir must be a non-empty string', 'dir');
  const resolved = resolveIndexOptions(options);
  const runtime = resolveRuntimeOptions(runtimePart(options));
  const store = IndexStore.open(dir, { create: true, readAhead: runtime.readAhead, ...(runtime.postings === 'memory' ? { postings: new MemoryPostingStore() } : {}) });
  if (store.meta.get()) {
    await store.close();
    throw createError('STRATA_INDEX_EXISTS', `an index already exists at ${JSON.stringify(dir)}`, 'dir');
  }
  const meta: IndexMeta = {
    formatVersion: FORMAT_VERSION,
    spec: resolved.spec,
    codec: createCodec(parseSpec(resolved.spec).codec, resolved.dimension).state(),
    options: resolved,
    state: 'empty',
    count: 0,
    headCount: 0,
    postingLimit: effectivePostingLimit(resolved),
    postingEntries: 0,
    longestList: 0,
    buildSeconds: 0,
    slotCount: 0,
    blockSlots: 0,
    cellCount: 0,
    createdAt: new Date().toISOString(),
    liveHeads: 0,
    version: 0,
    headsVersion: 0,
    tombstones: 0,
  };
  store.write(() => store.meta.put(meta));
  removeGraph(dir);
  return new SpannIndex(dir, store, meta, undefined, false, runtime);
}

export interface OpenOptions extends Partial<RuntimeOptions> {
  /** Open the LMDB environment read-only (batch-search workers do). Default false. */
  readOnly?: boolean;
  /** Where posting lists come from instead of the environment (object-index.ts: a query node's object store). */
  postingStore?: PostingStore;
}

/** Open an existing index. The head graph is rebuilt from the heads in LMDB if its file is missing or stale. */
export async function openIndex(dir: string, options: OpenOptions = {}): Promise<SpannIndex> {
  if (typeof dir !== 'string' || dir.length === 0) throw createError('STRATA_INVALID_OPTION', 'dir must be a non-empty string', 'dir');
  if (!existsSync(dir)) throw createError('STRATA_INDEX_NOT_FOUND', `no index at ${JSON.stringify(dir)} (directory missing)`, 'dir');
  if (options.postings === 'memory') throw createError('STRATA_INVALID_OPTION', 'postings: memory posting lists live only as long as the handle that built them (createIndex)', 'postings');
  const runtime = resolveRuntimeOptions(runtimePart(options));
  const store = IndexStore.open(dir, { readOnly: options.readOnly, readAhead: runtime.readAhead, ...(options.postingStore ? { postings: options.postingStore } : {}) });
  try {
    const meta = readMeta(store, dir);
    const graph = meta.state === 'built' ? loadGraph(store, dir, meta, !options.readOnly) : undefined;
    return new SpannIndex(dir, store, meta, graph, options.readOnly ?? false, runtime);
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Formats 5, 6 and 7 -> 8. Format 8 adds the recall calibration record (absent in older indexes:
 * searches use the fixed default budget until `strata tune` measures one). Format 5 stored the runtime `threads` among the index options, and indexes
 * written before splitFactor and the separate 'version' key existed lack them; format 7 values end
 * with a checksum (posting-format.ts), and older values without one are read as they are. The
 * migrated meta has no threads, an explicit splitFactor, and (once written) the 'version' key.
 */
function migrateMeta(old: IndexMeta): IndexMeta {
  const { threads: _threads, ...options } = old.options as IndexOptions & { threads?: number };
  return { ...old, formatVersion: FORMAT_VERSION, options: { ...DEFAULT_INDEX_OPTIONS, ...options }, version: old.version ?? 0 };
}

/** @internal shared with the search worker */
export function readMeta(store: IndexStore, dir: string): IndexMeta {
  let meta: IndexMeta | undefined;
  try {
    meta = store.meta.get();
  } catch (err) {
    throw createError('STRATA_INDEX_CORRUPT', `metadata of ${JSON.stringify(dir)} cannot be read: ${(err as Error).message}`, 'meta');
  }
  if (!meta || typeof meta !== 'object') throw createError('STRATA_INDEX_CORRUPT', `${JSON.stringify(dir)} holds no index metadata`, 'meta');
  if (meta.formatVersion >= 5 && meta.formatVersion < FORMAT_VERSION) {
    meta = migrateMeta(meta);
    // Written by the first writable open; read-only handles use the migrated record as it is.
    if (!store.readOnly) {
      const migrated = meta;
      store.write(() => store.meta.put(migrated));
    }
  }
  if (meta.formatVersion !== FORMAT_VERSION) {
    throw createError(
      'STRATA_FORMAT_VERSION',
      `${JSON.stringify(dir)} has on-disk format ${meta.formatVersion}, this build reads formats 5 to ${FORMAT_VERSION}: rebuild it (strata index build) from its vectors`,
      'formatVersion',
    );
  }
  return meta;
}

export { NO_ID };
