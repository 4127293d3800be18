/**
 * Child process of `strata bench ann`: builds or measures ONE engine, so that each engine's memory is
 * measured in a process of its own. Receives its job as JSON in argv[2], answers over IPC.
 *
 * Measurement: RssAnon is read just before the engine opens its index (dataset queries and ground truth
 * already loaded, GC run) and again after its single-thread queries; the difference is rssAnonBytes.
 */
import { loadDataset, recallAtK } from '../src/datasets/registry.js';
import { peakRssBytes, rssAnonBytes } from '../src/util/memory.js';
import { type EngineName, makeEngine, type Setting } from './engines.js';
import { quantile, runAsChild, send } from './engine-process.js';

export interface EngineJob {
  mode: 'build' | 'search';
  engine: EngineName;
  dataset: string;
  workDir: string;
  k: number;
  queries: number;
  sweep: boolean;
  rebuild: boolean;
  threads: number;
}

export interface SettingRow {
  engine: EngineName;
  params: Setting;
  recall: number;
  qps: number;
  qpsAllCores: number;
  p50Ms: number;
  p99Ms: number;
  bytesReadPerQuery: number;
}

export interface EngineReport {
  engine: EngineName;
  rows: SettingRow[];
  rssAnonBytes: number;
  rssAnonAllCoresBytes: number;
  diskBytes: number;
  openSeconds: number;
}



async function main(job: EngineJob) {
  if (job.mode === 'build') {
    const nodeBaseline = peakRssBytes(); // the bare process, before the dataset is loaded
    const data = await loadDataset(job.dataset);
    const engine = makeEngine(job.engine, { workDir: job.workDir, metric: data.metric, dim: data.dim, rebuild: job.rebuild, threads: job.threads });
    const r = await engine.build(data, (stage, done, total) => send({ type: 'progress', stage, done, total }));
    // Peak RSS of the build process above the bare Node process: the loaded dataset (vectors 1× raw,
    // plus queries and ground truth) and everything the build allocates.
    send({ type: 'built', ...r, diskBytes: engine.diskBytes(), peakRssBytes: peakRssBytes() - nodeBaseline });
    await engine.close();
    return;
  }
  // Search: only queries and ground truth are needed, except by the exact engine (its index IS the data).
  const data = await loadDataset(job.dataset, { maxQueries: job.queries, withBase: job.engine === 'exact' });
  const engine = makeEngine(job.engine, { workDir: job.workDir, metric: data.metric, dim: data.dim, rebuild: false, threads: job.threads });
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = rssAnonBytes();
  const t0 = performance.now();
  await engine.open(data);
  const openSeconds = (performance.now() - t0) / 1000;
  const { k, dim } = { k: job.k, dim: data.dim };
  const nq = data.queryCount;
  const rows: SettingRow[] = [];
  const out = new Uint32Array(nq * k);
  const lat = new Float64Array(nq);
  const settings = engine.settings(job.sweep);
  // Warm-up, not timed: one pass of every query at the widest setting brings the JIT up and every
  // posting page any setting will read into the page cache (warm-cache numbers, as ann-benchmarks).
  for (let q = 0; q < nq; q++) engine.searchOne(data.queries, q * dim, k, settings[settings.length - 1], out, q * k);
  for (const s of settings) {
    out.fill(0xffffffff);
    let bytes = 0;
    const start = performance.now();
    for (let q = 0; q < nq; q++) {
      const t = performance.now();
      bytes += engine.searchOne(data.queries, q * dim, k, s, out, q * k);
      lat[q] = performance.now() - t;
    }
    const seconds = (performance.now() - start) / 1000;
    lat.sort();
    rows.push({
      engine: job.engine,
      params: s,
      recall: recallAtK(out, k, data.groundTruth, data.gtK, nq),
      qps: nq / seconds,
      qpsAllCores: 0,
      p50Ms: quantile(lat, 0.5),
      p99Ms: quantile(lat, 0.99),
      bytesReadPerQuery: bytes / nq,
    });
    send({ type: 'progress', stage: `${job.engine} search`, done: rows.length, total: settings.length * 2 });
  }
  gc?.();
  const afterSingle = rssAnonBytes();
  // Warm-up of the worker pool (thread start, index open per worker), not timed.
  await engine.searchAll(data.queries.subarray(0, Math.min(nq, 64) * dim), k, settings[0]);
  for (let i = 0; i < settings.length; i++) {
    const start = performance.now();
    const ids = await engine.searchAll(data.queries, k, settings[i]);
    rows[i].qpsAllCores = nq / ((performance.now() - start) / 1000);
    const r = recallAtK(ids, k, data.groundTruth, data.gtK, nq);
    if (Math.abs(r - rows[i].recall) > 0.02) throw new Error(`${job.engine} ${JSON.stringify(settings[i])}: all-cores recall ${r} differs from single-thread ${rows[i].recall}`);
    send({ type: 'progress', stage: `${job.engine} search`, done: settings.length + i + 1, total: settings.length * 2 });
  }
  const afterAll = rssAnonBytes();
  const report: EngineReport = {
    engine: job.engine,
    rows,
    rssAnonBytes: afterSingle - before,
    rssAnonAllCoresBytes: afterAll - before,
    diskBytes: engine.diskBytes(),
    openSeconds,
  };
  await engine.close();
  send({ type: 'report', report });
}

runAsChild(main);
