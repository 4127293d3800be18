/**
 * The SPANN index: heads + hnswlib graph in memory, posting lists in LMDB.
 * `createIndex` / `openIndex` are the entry points; see ARCHITECTURE.md for the data flow.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Piscina } from 'piscina';
import { createError } from '../errors.js';
import { normalizeRows } from './distance.js';
import { assignRange, type AssignParams } from './assign.js';
import { HeadGraph } from './head-graph.js';
import { selectHeads } from './heads.js';
import {
  type IndexOptions,
  type SearchParams,
  effectivePostingLimit,
  resolveIndexOptions,
  resolveSearchParams,
} from './options.js';
import { layoutPostings } from './posting-layout.js';
import { type SearchStats, type SearcherConfig, SpannSearcher, emptyStats } from './searcher.js';
import { createCodec, restoreCodec } from './codecs/codec.js';
import { parseSpec } from './spec.js';
import { PcaTransform } from './codecs/pca.js';
import { NO_ID } from './topk.js';
import { checkIds, checkK, checkQuery, checkVectors, toFloat32 } from './validate.js';
import { FORMAT_VERSION, GRAPH_FILE, IndexStore, type IndexMeta } from '../storage/index-store.js';
import { encodePosting, postingBytes } from '../storage/posting-format.js';
import { createPool, resolveThreads, sharedFloat32, sharedUint32, toShared } from '../util/workers.js';

export type BuildStage = 'heads' | 'graph' | 'assign' | 'write';

export interface BuildProgress {
  stage: BuildStage;
  done: number;
  total: number;
}

export interface BuildCallOptions {
  /** Called as each stage advances (the CLI draws progress bars from it). */
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildStats {
  count: number;
  heads: number;
  postingEntries: number;
  replicasPerVector: number;
  longestList: number;
  postingLimit: number;
  /** Vectors that lost every replica to the cap and were re-homed to a head with room. */
  orphansRehomed: number;
  seconds: number;
  stageSeconds: Record<BuildStage, number>;
}

export interface SearchResult {
  /** External ids, nearest first (at most k). */
  ids: Uint32Array;
  distances: Float32Array;
  stats: SearchStats;
}

export interface BatchSearchResult {
  /** k slots per query, row-major; missing results hold id 0xFFFFFFFF and distance Infinity. */
  ids: Uint32Array;
  distances: Float32Array;
  k: number;
  queries: number;
  /** Totals over all queries. */
  stats: SearchStats;
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
}

/** Rows per assignment task sent to a worker. */
const ASSIGN_CHUNK = 4096;
/** Below this many vectors the build assigns in the calling thread. */
const PARALLEL_BUILD_MIN = 20_000;
/** Posting bytes written per LMDB transaction during the build. */
const WRITE_TXN_BYTES = 16 << 20;

export class SpannIndex {
  readonly dir: string;
  private readonly store: IndexStore;
  private meta: IndexMeta;
  private searcher: SpannSearcher | undefined;
  private pool: Piscina | undefined;
  private closed = false;

  /** @internal use createIndex / openIndex */
  constructor(dir: string, store: IndexStore, meta: IndexMeta, graph?: HeadGraph) {
    this.dir = dir;
    this.store = store;
    this.meta = meta;
    if (graph) this.attachGraph(graph);
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

  private attachGraph(graph: HeadGraph): void {
    this.searcher = new SpannSearcher(this.store, graph, searcherConfig(this.meta));
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
    const o = this.meta.options;
    const dim = o.dimension;
    const flat = Array.isArray(vectors) ? flattenRows(vectors, dim) : toFloat32(vectors, 'vectors');
    const n = checkVectors(flat, dim, 'vectors');
    const extIds = ids === undefined ? null : checkIds(ids, n);
    const t0 = performance.now();
    const stageSeconds: Record<BuildStage, number> = { heads: 0, graph: 0, assign: 0, write: 0 };
    const progress = call.onProgress ?? (() => {});
    let mark = performance.now();
    const lap = (stage: BuildStage) => {
      const now = performance.now();
      stageSeconds[stage] = (now - mark) / 1000;
      mark = now;
    };

    // Shared memory so assignment workers read the vectors in place; cosine works on unit vectors.
    let data: Float32Array;
    if (o.metric === 'cosine') {
      data = sharedFloat32(flat.length);
      data.set(flat);
      normalizeRows(data, dim);
    } else data = toShared(flat);

    // Stage 1: heads.
    const headCount = Math.max(1, Math.min(n, Math.round(n * o.headRatio)));
    const headRows = selectHeads(data, dim, n, {
      headCount,
      branching: o.kmeansBranching,
      iterations: o.kmeansIterations,
      samplePerCluster: o.kmeansSamplePerCluster,
      maxImbalance: o.kmeansMaxImbalance,
      seed: o.seed,
      onProgress: (done) => progress({ stage: 'heads', done, total: n }),
    });
    const H = headRows.length;
    const headVectors = sharedFloat32(H * dim);
    for (let h = 0; h < H; h++) headVectors.set(data.subarray(headRows[h] * dim, headRows[h] * dim + dim), h * dim);
    lap('heads');

    // Stage 2: head graph, saved beside the LMDB file (atomically, via rename).
    const graph = HeadGraph.build(headVectors, dim, o.metric, {
      m: o.hnswM,
      efConstruction: o.hnswEfConstruction,
      seed: o.seed,
      onProgress: (done) => progress({ stage: 'graph', done, total: H }),
    });
    const graphFile = join(this.dir, GRAPH_FILE);
    const tmpGraph = `${graphFile}.tmp`;
    graph.save(tmpGraph);
    lap('graph');

    // Stage 3a: replica choice per vector (closure + RNG rule), parallel for large builds.
    const R = o.replicas;
    const params: AssignParams = {
      metric: o.metric,
      replicas: R,
      candidateHeads: Math.min(o.candidateHeads, H),
      closureEps: o.closureEps,
      rngFactor: o.rngFactor,
    };
    const assignHeads = sharedUint32(n * R);
    const assignDist = sharedFloat32(n * R);
    const threads = resolveThreads(o.threads);
    if (n < PARALLEL_BUILD_MIN || threads === 1) {
      let done = 0;
      assignRange(data, dim, 0, n, graph, headVectors, params, assignHeads, assignDist, () => {
        if ((++done & 1023) === 0) progress({ stage: 'assign', done, total: n });
      });
    } else {
      const pool = createPool('index/build-worker', threads);
      try {
        let done = 0;
        const tasks: Promise<void>[] = [];
        for (let s = 0; s < n; s += ASSIGN_CHUNK) {
          const e = Math.min(n, s + ASSIGN_CHUNK);
          tasks.push(
            pool
              .run({ graphFile: tmpGraph, data, headVectors, dim, start: s, end: e, params, outHeads: assignHeads, outDist: assignDist })
              .then((rows: number) => {
                done += rows;
                progress({ stage: 'assign', done, total: n });
              }),
          );
        }
        await Promise.all(tasks);
      } finally {
        await pool.destroy();
      }
    }
    progress({ stage: 'assign', done: n, total: n });
    lap('assign');

    // What posting lists store: optionally PCA-projected, then encoded by the codec. PCA and codec are
    // fitted on evenly spaced samples (deterministic).
    const spec = parseSpec(this.meta.spec);
    const pca = spec.pca ? PcaTransform.fit(sampleRows(data, n, dim, PCA_SAMPLE), dim, spec.pca) : null;
    const stored = pca ? pca.projectRows(data, n) : data;
    const storedDim = pca ? pca.outDim : dim;
    const codec = createCodec(spec.codec, storedDim);
    codec.train(sampleRows(stored, n, storedDim, CODEC_SAMPLE));
    const refine = spec.refine;

    // Stage 3b: cap list lengths, re-home orphans, write lists + heads + meta to LMDB.
    const limit = effectivePostingLimit(o);
    const layout = layoutPostings(assignHeads, assignDist, n, R, H, limit);
    const lists = layout.lists;
    if (layout.orphans.length > 0) {
      const cand = new Uint32Array(params.candidateHeads);
      const candDist = new Float32Array(params.candidateHeads);
      const extra: number[][] = Array.from({ length: H }, () => []);
      const lengthOf = (h: number) => lists[h].length + extra[h].length;
      for (const r of layout.orphans) {
        const found = graph.search(data, r * dim, params.candidateHeads, params.candidateHeads, cand, candDist);
        let target = cand[0];
        for (let i = 0; i < found; i++) {
          if (lengthOf(cand[i]) < limit) {
            target = cand[i];
            break;
          }
        }
        extra[target].push(r);
      }
      for (let h = 0; h < H; h++) if (extra[h].length > 0) lists[h] = Uint32Array.from([...lists[h], ...extra[h]]);
    }

    let entries = 0;
    let longest = 0;
    let h = 0;
    while (h < H) {
      let bytes = 0;
      this.store.write(() => {
        for (; h < H && bytes < WRITE_TXN_BYTES; h++) {
          const list = lists[h];
          this.store.putPosting(h, encodePosting(list, list.length, extIds, stored, storedDim, codec));
          this.store.putHead(h, extIds ? extIds[headRows[h]] : headRows[h], headVectors.subarray(h * dim, h * dim + dim));
          bytes += postingBytes(list.length, codec.bytesPerVector);
          entries += list.length;
          if (list.length > longest) longest = list.length;
          lists[h] = EMPTY; // release as we go
        }
      });
      progress({ stage: 'write', done: h, total: H });
    }
    if (refine) writeFullVectors(this.store, data, n, dim, extIds);
    renameSync(tmpGraph, graphFile);
    lap('write');
    const seconds = (performance.now() - t0) / 1000;
    const meta: IndexMeta = {
      ...this.meta,
      state: 'built',
      count: n,
      headCount: H,
      postingLimit: limit,
      postingEntries: entries,
      longestList: longest,
      buildSeconds: seconds,
      codec: codec.state(),
      ...(pca ? { pca: pca.state } : {}),
    };
    this.store.write(() => this.store.putMeta(meta));
    this.meta = meta;
    this.attachGraph(graph);
    return {
      count: n,
      heads: H,
      postingEntries: entries,
      replicasPerVector: entries / n,
      longestList: longest,
      postingLimit: limit,
      orphansRehomed: layout.orphans.length,
      seconds,
      stageSeconds,
    };
  }

  /** k nearest neighbours of one query, with per-query stats. */
  search(query: Float32Array | number[], k: number, params?: Partial<SearchParams>): SearchResult {
    const searcher = this.assertBuilt();
    const q = checkQuery(query, this.dimension);
    checkK(k);
    const p = resolveSearchParams(params);
    const ids = new Uint32Array(k);
    const distances = new Float32Array(k);
    const stats = emptyStats();
    const found = searcher.search(q, 0, k, p, ids, distances, 0, stats);
    return { ids: ids.subarray(0, found), distances: distances.subarray(0, found), stats };
  }

  /**
   * Search many queries (row-major n×dim) on a piscina pool of `options.threads` workers (made on the
   * first call, kept until close): each worker holds its own copy of the head graph and its own LMDB
   * read view.
   */
  async searchBatch(queries: Float32Array | number[][], k: number, params?: Partial<SearchParams>): Promise<BatchSearchResult> {
    this.assertBuilt();
    const dim = this.dimension;
    const flat = Array.isArray(queries) ? flattenRows(queries, dim, 'queries') : toFloat32(queries, 'queries');
    const nq = checkVectors(flat, dim, 'queries');
    checkK(k);
    const p = resolveSearchParams(params);
    const q = toShared(flat);
    const ids = sharedUint32(nq * k);
    const distances = sharedFloat32(nq * k);
    const statsOut = new Float64Array(new SharedArrayBuffer(nq * 3 * 8));
    this.pool ??= createPool('index/search-worker', this.meta.options.threads);
    const chunk = Math.max(1, Math.min(256, Math.ceil(nq / (this.pool.maxThreads * 4))));
    const tasks: Promise<void>[] = [];
    for (let s = 0; s < nq; s += chunk) {
      tasks.push(this.pool.run({ dir: this.dir, queries: q, start: s, end: Math.min(nq, s + chunk), k, params: p, ids, distances, stats: statsOut }));
    }
    await Promise.all(tasks);
    const stats = emptyStats();
    for (let i = 0; i < nq; i++) {
      stats.listsProbed += statsOut[i * 3];
      stats.vectorsScanned += statsOut[i * 3 + 1];
      stats.bytesRead += statsOut[i * 3 + 2];
    }
    return { ids, distances, k, queries: nq, stats };
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
      heads: m.headCount,
      postingLimit: m.postingLimit,
      postingEntries: m.postingEntries,
      replicasPerVector: m.count > 0 ? m.postingEntries / m.count : 0,
      longestList: m.longestList,
      diskBytes: this.diskBytes(),
      formatVersion: m.formatVersion,
    };
  }

  /** LMDB file plus head graph file. */
  diskBytes(): number {
    const graphFile = join(this.dir, GRAPH_FILE);
    let total = this.store.diskBytes();
    if (existsSync(graphFile)) total += IndexStore.fileBytes(graphFile);
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pool) await this.pool.destroy();
    await this.store.close();
  }
}

const EMPTY = new Uint32Array(0);
/** Rows used to fit the posting codec. */
const CODEC_SAMPLE = 65_536;
/** Rows used to fit PCA (covariance costs rows × dim² / 2). */
const PCA_SAMPLE = 20_000;

/** An evenly spaced sample of at most `max` rows, as a fresh n'×dim array. */
function sampleRows(data: Float32Array, n: number, dim: number, max: number): Float32Array {
  const m = Math.min(n, max);
  const out = new Float32Array(m * dim);
  for (let i = 0; i < m; i++) {
    const r = Math.floor((i * n) / m);
    out.set(data.subarray(r * dim, r * dim + dim), i * dim);
  }
  return out;
}

/** Refine: every vector at full precision under its external id, in bounded transactions. */
function writeFullVectors(store: IndexStore, data: Float32Array, n: number, dim: number, extIds: Uint32Array | null): void {
  const perTxn = Math.max(1, Math.floor(WRITE_TXN_BYTES / (dim * 4)));
  for (let s = 0; s < n; s += perTxn) {
    store.write(() => {
      for (let r = s; r < Math.min(n, s + perTxn); r++) store.putVector(extIds ? extIds[r] : r, data.subarray(r * dim, r * dim + dim));
    });
  }
}

/** @internal How a searcher reads this index (shared with the batch-search worker). */
export function searcherConfig(meta: IndexMeta): SearcherConfig {
  return {
    dim: meta.options.dimension,
    metric: meta.options.metric,
    headCount: meta.headCount,
    codec: restoreCodec(meta.codec),
    pca: meta.pca ? PcaTransform.restore(meta.pca) : null,
    refine: parseSpec(meta.spec).refine,
  };
}

function flattenRows(rows: number[][], dim: number, field = 'vectors'): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (!Array.isArray(row) || row.length !== dim) {
      throw createError(
        'STRATA_DIMENSION_MISMATCH',
        `${field}[${i}] has ${Array.isArray(row) ? row.length : 'no'} components, the index has ${dim}`,
        field,
      );
    }
    for (let j = 0; j < dim; j++) {
      const x = row[j];
      if (typeof x !== 'number') throw createError('STRATA_INVALID_OPTION', `${field}[${i}][${j}] must be a number`, field);
      out[i * dim + j] = x;
    }
  }
  return out;
}

/** Create a new, empty index in `dir` (created if missing). Fails if an index is already there. */
export async function createIndex(dir: string, options: Partial<IndexOptions> & { dimension: number }): Promise<SpannIndex> {
  if (typeof dir !== 'string' || dir.length === 0) throw createError('STRATA_INVALID_OPTION', 'dir must be a non-empty string', 'dir');
  const resolved = resolveIndexOptions(options);
  const store = IndexStore.open(dir, { create: true });
  if (store.getMeta()) {
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
    createdAt: new Date().toISOString(),
  };
  store.write(() => store.putMeta(meta));
  rmSync(join(dir, GRAPH_FILE), { force: true });
  return new SpannIndex(dir, store, meta);
}

export interface OpenOptions {
  /** Open the LMDB environment read-only (batch-search workers do). Default false. */
  readOnly?: boolean;
}

/** Open an existing index. The head graph is rebuilt from the heads in LMDB if its file is missing or stale. */
export async function openIndex(dir: string, options: OpenOptions = {}): Promise<SpannIndex> {
  if (typeof dir !== 'string' || dir.length === 0) throw createError('STRATA_INVALID_OPTION', 'dir must be a non-empty string', 'dir');
  if (!existsSync(dir)) throw createError('STRATA_INDEX_NOT_FOUND', `no index at ${JSON.stringify(dir)} (directory missing)`, 'dir');
  const store = IndexStore.open(dir, { readOnly: options.readOnly });
  try {
    const meta = readMeta(store, dir);
    const graph = meta.state === 'built' ? loadGraph(store, dir, meta, !options.readOnly) : undefined;
    return new SpannIndex(dir, store, meta, graph);
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** @internal shared with the search worker */
export function readMeta(store: IndexStore, dir: string): IndexMeta {
  let meta: IndexMeta | undefined;
  try {
    meta = store.getMeta();
  } catch (err) {
    throw createError('STRATA_INDEX_CORRUPT', `metadata of ${JSON.stringify(dir)} cannot be read: ${(err as Error).message}`, 'meta');
  }
  if (!meta || typeof meta !== 'object') throw createError('STRATA_INDEX_CORRUPT', `${JSON.stringify(dir)} holds no index metadata`, 'meta');
  if (meta.formatVersion !== FORMAT_VERSION) {
    throw createError(
      'STRATA_FORMAT_VERSION',
      `${JSON.stringify(dir)} has on-disk format ${meta.formatVersion}, this build reads format ${FORMAT_VERSION}`,
      'formatVersion',
    );
  }
  return meta;
}

/** @internal Load heads.hnsw, or rebuild it from the LMDB heads when it is missing or disagrees. */
export function loadGraph(store: IndexStore, dir: string, meta: IndexMeta, mayWrite: boolean): HeadGraph {
  const file = join(dir, GRAPH_FILE);
  const { dimension, metric } = meta.options;
  if (existsSync(file)) {
    try {
      const g = HeadGraph.load(file, dimension, metric);
      if (g.count === meta.headCount) return g;
    } catch {
      // fall through to the rebuild
    }
  }
  const { vectors } = store.readHeads(meta.headCount, dimension);
  const g = HeadGraph.build(vectors, dimension, metric, { m: meta.options.hnswM, efConstruction: meta.options.hnswEfConstruction, seed: meta.options.seed });
  if (mayWrite) {
    g.save(`${file}.tmp`);
    renameSync(`${file}.tmp`, file);
  }
  return g;
}

export { NO_ID };
