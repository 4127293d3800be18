/**
 * The engines `strata bench ann` compares, behind one small interface:
 *   strata  — this project's SPANN index (heads in memory, posting lists in LMDB)
 *   hnswlib — hnswlib-node over ALL vectors: the in-memory upper bound
 *   exact   — brute force: the reference answer
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import type { Piscina } from 'piscina';
import { createIndex, openIndex, type SpannIndex } from '../src/index/spann.js';
import { exactSearch, exactSearchRange } from '../src/index/exact.js';
import { FORMAT_VERSION, IndexStore } from '../src/storage/index-store.js';
import { normalizeRows, type Metric } from '../src/index/distance.js';
import { createPool, sharedFloat32, sharedUint32, toShared } from '../src/util/workers.js';
import type { Dataset } from '../src/datasets/registry.js';

export type EngineName = 'strata' | 'hnswlib' | 'exact';
export const ENGINES: EngineName[] = ['strata', 'hnswlib', 'exact'];

/** One point of a sweep: engine-specific search settings. */
export type Setting = Record<string, number>;

export interface Engine {
  /** Build (or reuse) the engine's index; returns build seconds (0 when reused) and on-disk bytes. */
  build(data: Dataset, onProgress?: (stage: string, done: number, total: number) => void): Promise<{ seconds: number; reused: boolean }>;
  open(data: Dataset): Promise<void>;
  /** The settings to time; `ssd` adds the variants meant for an index read from the device. */
  settings(sweep: boolean, ssd?: boolean): Setting[];
  /** Search one query; writes k ids at out. Returns bytes read from storage (0 when in memory). */
  searchOne(q: Float32Array, qOff: number, k: number, s: Setting, out: Uint32Array, outOff: number): number;
  /** The files the engine reads at search time (what a cold start evicts from the page cache). */
  files(): string[];
  /** All queries on all cores. */
  searchAll(queries: Float32Array, k: number, s: Setting): Promise<Uint32Array>;
  diskBytes(): number;
  close(): Promise<void>;
}

export interface EngineContext {
  /** Folder for this engine's index files (under the dataset's folder). */
  workDir: string;
  metric: Metric;
  dim: number;
  rebuild: boolean;
  threads: number;
  /** Kernel readahead on the index's files (strata's RuntimeOptions.readAhead; default: strata's default). */
  readAhead?: boolean;
  /** strata's index spec (spec.ts); default the library's default (float32 lists). */
  spec?: string;
  /** strata's maxLists settings, replacing the built-in ones. */
  maxLists?: number[];
  /** strata's headRatio (a build option; default the library's). */
  headRatio?: number;
}

/** Whether a previous run left a built index here in the current on-disk format. */
export function reusableIndex(dir: string): boolean {
  if (!existsSync(join(dir, 'heads.hnsw'))) return false;
  try {
    const store = IndexStore.open(dir, { readOnly: true });
    try {
      return store.meta.get()?.formatVersion === FORMAT_VERSION;
    } finally {
      store.close();
    }
  } catch {
    return false;
  }
}

/** A setting's prefetch: 0/1 when the sweep sets it, else the library's default ('auto'). */
function prefetchOf(s: Setting): boolean | 'auto' {
  return s.prefetch === undefined ? 'auto' : s.prefetch === 1;
}

/** A strata setting as search options: its target recall when it has one (maxLists is then what that target reads). */
/** A strata setting's search budget: its target recall when it has one (maxLists is then what that target reads), else maxLists. */
export function budgetOf(s: Setting): { targetRecall: number } | { maxLists: number } {
  return s.targetRecall !== undefined ? { targetRecall: s.targetRecall } : { maxLists: s.maxLists };
}

/** A strata setting as search options: its budget and prefetch. */
function searchOptions(s: Setting) {
  return { ...budgetOf(s), prefetch: prefetchOf(s) };
}

class StrataEngine implements Engine {
  private index?: SpannIndex;
  private readonly dir: string;
  constructor(private readonly ctx: EngineContext) {
    // The default spec keeps the folder name earlier runs built; others (and other head ratios) get one each.
    const name = ctx.spec ? `strata-${ctx.spec.replace(/,/g, '-')}` : 'strata-index';
    this.dir = join(ctx.workDir, ctx.headRatio ? `${name}-h${ctx.headRatio}` : name);
  }
  async build(data: Dataset, onProgress?: (stage: string, done: number, total: number) => void) {
    if (!this.ctx.rebuild && reusableIndex(this.dir)) return { seconds: 0, reused: true };
    rmSync(this.dir, { recursive: true, force: true });
    const index = await createIndex(this.dir, { dimension: data.dim, metric: data.metric, threads: this.ctx.threads, ...(this.ctx.spec ? { spec: this.ctx.spec } : {}), ...(this.ctx.headRatio ? { headRatio: this.ctx.headRatio } : {}) });
    const stats = await index.build(data.base, undefined, { onProgress: (p) => onProgress?.(p.stage, p.done, p.total) });
    await index.close();
    return { seconds: stats.seconds, reused: false };
  }
  async open() {
    this.index = await openIndex(this.dir, { threads: this.ctx.threads, ...(this.ctx.readAhead === undefined ? {} : { readAhead: this.ctx.readAhead }) });
  }
  /**
   * By target recall (the index's calibration maps each to the lists it reads, shown beside it) up to
   * 0.995; by maxLists when --max-lists is given or the index has no recall curve.
   */
  settings(sweep: boolean, ssd = false): Setting[] {
    let base: Setting[];
    if (!this.ctx.maxLists && this.index!.recallCurve()) {
      const targets = sweep ? [0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995] : [0.9, 0.95, 0.99];
      // Targets that map to the same budget are one setting, labelled with the highest of them.
      const byLists = new Map<number, Setting>();
      for (const targetRecall of targets) {
        const maxLists = this.index!.budgetFor(targetRecall);
        byLists.set(maxLists, { targetRecall, maxLists });
      }
      base = [...byLists.values()];
    } else base = (this.ctx.maxLists ?? (sweep ? [1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64] : [8, 16, 32])).map((maxLists) => ({ maxLists }));
    // From the device: each setting with the probe's lists prefetched (read in parallel) and without.
    return ssd ? base.flatMap((s) => [{ ...s, prefetch: 0 }, { ...s, prefetch: 1 }]) : base;
  }
  searchOne(q: Float32Array, qOff: number, k: number, s: Setting, out: Uint32Array, outOff: number): number {
    const r = this.index!.search(q.subarray(qOff, qOff + this.ctx.dim), k, searchOptions(s));
    out.set(r.ids, outOff);
    return r.stats.bytesRead;
  }
  async searchAll(queries: Float32Array, k: number, s: Setting) {
    const r = await this.index!.searchBatch(queries, k, searchOptions(s));
    return r.ids;
  }
  files() {
    return [join(this.dir, 'strata.mdb'), join(this.dir, 'heads.hnsw')];
  }
  diskBytes() {
    return this.index ? this.index.diskBytes() : IndexStore.fileBytes(join(this.dir, 'strata.mdb'));
  }
  async close() {
    await this.index?.close();
  }
}

export const HNSW_M = 16;
export const HNSW_EF_CONSTRUCTION = 200;

class HnswEngine implements Engine {
  private index?: hnswlib.HierarchicalNSW;
  private pool?: Piscina;
  private readonly file: string;
  private readonly arr: number[];
  constructor(private readonly ctx: EngineContext) {
    this.file = join(ctx.workDir, `hnswlib-M${HNSW_M}-efc${HNSW_EF_CONSTRUCTION}.bin`);
    this.arr = new Array<number>(ctx.dim).fill(0);
  }
  private space() {
    return this.ctx.metric === 'l2' ? 'l2' : this.ctx.metric === 'ip' ? 'ip' : 'cosine';
  }
  async build(data: Dataset, onProgress?: (stage: string, done: number, total: number) => void) {
    if (!this.ctx.rebuild && existsSync(this.file)) return { seconds: 0, reused: true };
    const t0 = performance.now();
    const index = new hnswlib.HierarchicalNSW(this.space(), data.dim);
    index.initIndex({ maxElements: data.baseCount, m: HNSW_M, efConstruction: HNSW_EF_CONSTRUCTION, randomSeed: 100 });
    const row = new Array<number>(data.dim);
    for (let i = 0; i < data.baseCount; i++) {
      for (let j = 0; j < data.dim; j++) row[j] = data.base[i * data.dim + j];
      index.addPoint(row, i);
      if ((i & 4095) === 4095) onProgress?.('hnswlib', i + 1, data.baseCount);
    }
    mkdirSync(this.ctx.workDir, { recursive: true });
    index.writeIndexSync(this.file);
    return { seconds: (performance.now() - t0) / 1000, reused: false };
  }
  async open() {
    this.index = new hnswlib.HierarchicalNSW(this.space(), this.ctx.dim);
    this.index.readIndexSync(this.file);
  }
  settings(sweep: boolean): Setting[] {
    const efs = sweep ? [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384] : [32, 64, 128];
    return efs.map((ef) => ({ ef }));
  }
  searchOne(q: Float32Array, qOff: number, k: number, s: Setting, out: Uint32Array, outOff: number): number {
    const a = this.arr;
    for (let j = 0; j < this.ctx.dim; j++) a[j] = q[qOff + j];
    this.index!.setEf(Math.max(s.ef, k));
    const r = this.index!.searchKnn(a, k);
    for (let j = 0; j < r.neighbors.length; j++) out[outOff + j] = r.neighbors[j];
    return 0;
  }
  async searchAll(queries: Float32Array, k: number, s: Setting) {
    this.pool ??= createPool('../bench/hnsw-worker', this.ctx.threads);
    const nq = queries.length / this.ctx.dim;
    const ids = sharedUint32(nq * k);
    const q = toShared(queries);
    const chunk = Math.max(1, Math.ceil(nq / (this.pool.maxThreads * 4)));
    const tasks = [];
    for (let st = 0; st < nq; st += chunk) {
      tasks.push(this.pool.run({ file: this.file, space: this.space(), dim: this.ctx.dim, queries: q, start: st, end: Math.min(nq, st + chunk), k, ef: s.ef, ids }));
    }
    await Promise.all(tasks);
    return ids;
  }
  diskBytes() {
    return IndexStore.fileBytes(this.file);
  }
  files() {
    return [this.file];
  }
  async close() {
    await this.pool?.destroy();
  }
}

class ExactEngine implements Engine {
  private base?: Float32Array;
  private readonly dist = new Float32Array(1024);
  constructor(private readonly ctx: EngineContext) {}
  async build() {
    return { seconds: 0, reused: true };
  }
  async open(data: Dataset) {
    // The exact engine's "index" is the vectors themselves, loaded into its process.
    this.base = sharedFloat32(data.base.length);
    this.base.set(data.base);
    if (this.ctx.metric === 'cosine') normalizeRows(this.base, this.ctx.dim);
  }
  settings(): Setting[] {
    return [{}];
  }
  searchOne(q: Float32Array, qOff: number, k: number, _s: Setting, out: Uint32Array, outOff: number): number {
    const query = Float32Array.from(q.subarray(qOff, qOff + this.ctx.dim));
    if (this.ctx.metric === 'cosine') normalizeRows(query, this.ctx.dim);
    const dist = k <= this.dist.length ? this.dist : new Float32Array(k);
    exactSearchRange(this.base!, query, this.ctx.dim, this.ctx.metric, k, 0, 1, out.subarray(outOff, outOff + k), dist);
    return this.base!.byteLength;
  }
  async searchAll(queries: Float32Array, k: number) {
    const r = await exactSearch(this.base!, queries, this.ctx.dim, k, { metric: this.ctx.metric === 'cosine' ? 'ip' : this.ctx.metric, threads: this.ctx.threads });
    return r.ids;
  }
  diskBytes() {
    return this.base ? this.base.byteLength : 0;
  }
  files() {
    return [];
  }
  async close() {}
}

export function makeEngine(name: EngineName, ctx: EngineContext): Engine {
  if (name === 'strata') return new StrataEngine(ctx);
  if (name === 'hnswlib') return new HnswEngine(ctx);
  return new ExactEngine(ctx);
}
