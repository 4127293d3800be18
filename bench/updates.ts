/**
 * `strata bench updates`: live updates on a built index, SPFresh's workload in small.
 *   1. fresh     build the whole base (cached), copy it to a work folder; recall@k and disk size;
 *                a reader thread (its own read-only handle) times searches with nothing written:
 *                the idle p50/p99;
 *   2. delete    `churn` of the ids (evenly spread, seeded), in batches;
 *   3. re-insert the same vectors under the same ids, one writer, `batch` vectors per call, while
 *                the reader keeps searching: inserts/s and the ingest-time p50/p99;
 *   4. recall after the churn (the live set equals the fresh one, so the ground truth holds), disk;
 *   5. compact   tombstones applied, small lists merged, the LMDB file rewritten without its free
 *                pages (reclaimDisk): recall, disk, health.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { hasSingleThreadedGc } from '../src/util/gc.js';
import { createIndex, openIndex, type SpannIndex } from '../src/index/spann.js';
import { loadDataset, recallAtK, DATASETS_DIR, INDEXES_DIR, type Dataset } from '../src/datasets/registry.js';
import { createProgress } from '../src/util/progress.js';
import { createRng } from '../src/util/random.js';
import { workerFile, toShared } from '../src/util/workers.js';
import { reusableIndex } from './engines.js';
import { quantile } from './engine-process.js';
import { formatTable, fmtBytes } from './report.js';

export interface UpdateBenchOptions {
  dataset: string;
  /** Fraction of the vectors deleted and re-inserted. */
  churn: number;
  /** Vectors per insert call (one writer, calls awaited in turn). */
  batch: number;
  k: number;
  queries: number;
  maxLists: number;
  seed: number;
  rebuild: boolean;
  json?: string;
}

export interface UpdateBenchResult {
  dataset: string;
  gc: 'single-threaded' | 'parallel';
  count: number;
  churned: number;
  batch: number;
  maxLists: number;
  recallFresh: number;
  recallAfterChurn: number;
  recallAfterCompaction: number;
  insertsPerSec: number;
  deletesPerSec: number;
  p50IdleMs: number;
  p99IdleMs: number;
  p50IngestMs: number;
  p99IngestMs: number;
  searchesIdle: number;
  searchesDuringIngest: number;
  diskBytesFresh: number;
  diskBytesAfterChurn: number;
  diskBytesAfterCompaction: number;
  headsFresh: number;
  headsAfterChurn: number;
  headsAfterCompaction: number;
  compactSeconds: number;
  healthProblems: string[];
}

function recallOf(index: SpannIndex, data: Dataset, nq: number, k: number, maxLists: number): number {
  const out = new Uint32Array(nq * k).fill(0xffffffff);
  for (let q = 0; q < nq; q++) out.set(index.search(data.queries.subarray(q * data.dim, (q + 1) * data.dim), k, { maxLists }).ids, q * k);
  return recallAtK(out, k, data.groundTruth, data.gtK, nq);
}

/** The reader thread: start/stop a measured phase, get its latencies (ms, ascending). */
class Reader {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;

  constructor(dir: string, data: Dataset, nq: number, k: number, maxLists: number) {
    const queries = toShared(data.queries.subarray(0, nq * data.dim));
    this.worker = new Worker(workerFile('../bench/update-reader'), { workerData: { dir, queries, dim: data.dim, k, maxLists } });
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('message', () => resolve());
      this.worker.once('error', reject);
    });
  }

  async start(): Promise<void> {
    await this.ready;
    this.worker.postMessage({ type: 'start' });
  }

  stop(): Promise<Float64Array> {
    return new Promise((resolve) => {
      this.worker.once('message', (m: { ms: number[] }) => resolve(Float64Array.from(m.ms).sort()));
      this.worker.postMessage({ type: 'stop' });
    });
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.worker.postMessage({ type: 'exit' });
    await new Promise((r) => this.worker.once('exit', r));
  }
}

export async function runUpdateBench(o: UpdateBenchOptions, log: (s: string) => void = console.log): Promise<UpdateBenchResult> {
  const ui = createProgress();
  const data = await loadDataset(o.dataset, { report: ui.update });
  const nq = Math.min(o.queries, data.queryCount);
  const n = data.baseCount, dim = data.dim;
  log(`dataset ${data.name}: ${n} × ${dim} (${data.metric}), ${nq} queries, k=${o.k}, maxLists ${o.maxLists}; churn ${(o.churn * 100).toFixed(0)}%, batches of ${o.batch}; ${hasSingleThreadedGc() ? 'single-threaded' : 'parallel'} GC`);
  const fresh = join(DATASETS_DIR, data.name, INDEXES_DIR, 'strata-updates-fresh');
  if (o.rebuild || !reusableIndex(fresh)) {
    rmSync(fresh, { recursive: true, force: true });
    mkdirSync(fresh, { recursive: true });
    const index = await createIndex(fresh, { dimension: dim, metric: data.metric });
    await index.build(data.base, undefined, { onProgress: (p) => ui.update(`build ${p.stage}`, p.done, p.total) });
    await index.close();
    ui.stop();
  }
  const work = join(DATASETS_DIR, data.name, INDEXES_DIR, 'strata-updates-work');
  rmSync(work, { recursive: true, force: true });
  cpSync(fresh, work, { recursive: true });
  const index = await openIndex(work);
  const reader = new Reader(work, data, nq, o.k, o.maxLists);
  try {
    const recallFresh = recallOf(index, data, nq, o.k, o.maxLists);
    const diskBytesFresh = index.diskBytes();
    const headsFresh = index.stats().heads;
    // Idle latency: the reader alone, for as long as it takes to run the queries a few times.
    await reader.start();
    await new Promise((r) => setTimeout(r, 3000));
    const idle = await reader.stop();

    // Delete `churn` of the ids (a seeded sample), in batches.
    const rng = createRng(o.seed);
    const ids = Uint32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    const victims = ids.subarray(0, Math.floor(n * o.churn)).sort();
    let t0 = performance.now();
    for (let s = 0; s < victims.length; s += o.batch * 10) {
      await index.delete(victims.subarray(s, s + o.batch * 10));
      ui.update('delete', Math.min(victims.length, s + o.batch * 10), victims.length);
    }
    const deletesPerSec = victims.length / ((performance.now() - t0) / 1000);
    ui.stop();

    // Re-insert them, one writer, while the reader searches.
    const vec = new Float32Array(o.batch * dim);
    await reader.start();
    t0 = performance.now();
    for (let s = 0; s < victims.length; s += o.batch) {
      const part = victims.subarray(s, s + o.batch);
      for (let i = 0; i < part.length; i++) vec.set(data.base.subarray(part[i] * dim, (part[i] + 1) * dim), i * dim);
      await index.insert(vec.subarray(0, part.length * dim), part);
      ui.update('re-insert', s + part.length, victims.length);
    }
    const insertSeconds = (performance.now() - t0) / 1000;
    const ingest = await reader.stop();
    ui.stop();
    const recallAfterChurn = recallOf(index, data, nq, o.k, o.maxLists);
    const diskBytesAfterChurn = index.diskBytes();
    const headsAfterChurn = index.stats().heads;

    await reader.close(); // a reclaiming compaction needs the index to itself
    const c = await index.compact({ reclaimDisk: true });
    const recallAfterCompaction = recallOf(index, data, nq, o.k, o.maxLists);
    const health = index.health();
    const result: UpdateBenchResult = {
      dataset: data.name,
      gc: hasSingleThreadedGc() ? 'single-threaded' : 'parallel',
      count: n,
      churned: victims.length,
      batch: o.batch,
      maxLists: o.maxLists,
      recallFresh,
      recallAfterChurn,
      recallAfterCompaction,
      insertsPerSec: victims.length / insertSeconds,
      deletesPerSec,
      p50IdleMs: quantile(idle, 0.5),
      p99IdleMs: quantile(idle, 0.99),
      p50IngestMs: quantile(ingest, 0.5),
      p99IngestMs: quantile(ingest, 0.99),
      searchesIdle: idle.length,
      searchesDuringIngest: ingest.length,
      diskBytesFresh,
      diskBytesAfterChurn,
      diskBytesAfterCompaction: c.diskBytesAfter,
      headsFresh,
      headsAfterChurn,
      headsAfterCompaction: index.stats().heads,
      compactSeconds: c.seconds,
      healthProblems: health.problems,
    };
    report(result, o, log);
    if (o.json) {
      writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), ...result, health }, null, 2) + '\n');
      log(`wrote ${o.json}`);
    }
    return result;
  } finally {
    await reader.close();
    await index.close();
  }
}

function report(r: UpdateBenchResult, o: UpdateBenchOptions, log: (s: string) => void): void {
  const rows = [
    { phase: 'fresh build', recall: r.recallFresh, disk: r.diskBytesFresh, heads: r.headsFresh, p50: r.p50IdleMs, p99: r.p99IdleMs, searches: r.searchesIdle, rate: '' },
    { phase: `after ${(o.churn * 100).toFixed(0)}% delete + re-insert`, recall: r.recallAfterChurn, disk: r.diskBytesAfterChurn, heads: r.headsAfterChurn, p50: r.p50IngestMs, p99: r.p99IngestMs, searches: r.searchesDuringIngest, rate: `${r.insertsPerSec.toFixed(0)} ins/s, ${r.deletesPerSec.toFixed(0)} del/s` },
    { phase: 'after compaction', recall: r.recallAfterCompaction, disk: r.diskBytesAfterCompaction, heads: r.headsAfterCompaction, p50: NaN, p99: NaN, searches: 0, rate: `${r.compactSeconds.toFixed(1)} s` },
  ];
  log(
    formatTable(rows, [
      { title: 'phase', value: (x) => x.phase },
      { title: `recall@${o.k}`, value: (x) => x.recall.toFixed(4) },
      { title: 'disk', value: (x) => fmtBytes(x.disk) },
      { title: 'heads', value: (x) => String(x.heads) },
      { title: 'search p50 ms', value: (x) => (Number.isNaN(x.p50) ? '' : x.p50.toFixed(3)) },
      { title: 'p99 ms', value: (x) => (Number.isNaN(x.p99) ? '' : x.p99.toFixed(3)) },
      { title: 'searches', value: (x) => (x.searches ? String(x.searches) : '') },
      { title: 'writes', value: (x) => x.rate },
    ]),
  );
  log(`recall change ${((r.recallAfterChurn - r.recallFresh) * 100).toFixed(2)} points (target within 1); disk after compaction ${(r.diskBytesAfterCompaction / r.diskBytesFresh).toFixed(2)}× fresh (target <= 1.3); p99 while ingesting ${(r.p99IngestMs / r.p99IdleMs).toFixed(2)}× idle (target <= 2)`);
  if (r.healthProblems.length > 0) log(`health problems: ${r.healthProblems.join('; ')}`);
  else log('health: every invariant holds');
}
