/**
 * Child process of `strata bench ann`: builds or measures ONE engine, so that each engine's memory is
 * measured in a process of its own. Receives its job as JSON in argv[2], answers over IPC.
 *
 * Measurement: RssAnon is read just before the engine opens its index (dataset queries and ground truth
 * already loaded, GC run) and again after its single-thread queries; the difference is rssAnonBytes.
 */
import { loadDataset, recallAtK } from '../src/datasets/registry.js';
import type { Dataset } from '../src/datasets/registry.js';
import { ioCounters, rssAnonBytes, watchPeakAnon } from '../src/util/memory.js';
import { type Engine, type EngineName, makeEngine, type Setting } from './engines.js';
import { quantile, runAsChild, send } from './engine-process.js';

export interface EngineJob {
  /** build: build or reuse the index. search: open, warm up, time every setting (1 thread, then all cores). cold: open on an evicted page cache and time the very first pass of one setting. */
  mode: 'build' | 'search' | 'cold';
  engine: EngineName;
  dataset: string;
  workDir: string;
  k: number;
  queries: number;
  sweep: boolean;
  rebuild: boolean;
  threads: number;
  /** The settings include the SSD-regime variants (strata: prefetch on and off). */
  ssd?: boolean;
  /** cold: the one setting timed. */
  setting?: Setting;
  /** Kernel readahead on the engine's files (strata: RuntimeOptions.readAhead). */
  readAhead?: boolean;
  /** strata's index spec. */
  spec?: string;
  /** strata's headRatio. */
  headRatio?: number;
  /** strata's maxLists settings (default: the built-in ones). */
  maxLists?: number[];
}

export interface SettingRow {
  engine: EngineName;
  params: Setting;
  recall: number;
  qps: number;
  qpsAllCores: number;
  p50Ms: number;
  p99Ms: number;
  /** Posting bytes the queries needed (what the engine read from its store), per query. */
  bytesReadPerQuery: number;
  /** Bytes read from the device per query (/proc/self/io), single-thread pass. */
  deviceBytesPerQuery: number;
  /** Major page faults per query, single-thread pass. */
  majorFaultsPerQuery: number;
  /** 'warm': after an untimed pass. 'cold': the first pass after the files were evicted. */
  pass: 'warm' | 'cold';
  /** cold: milliseconds from opening the index to the first query's answer. */
  firstResultMs?: number;
}

export interface EngineReport {
  engine: EngineName;
  rows: SettingRow[];
  rssAnonBytes: number;
  rssAnonAllCoresBytes: number;
  diskBytes: number;
  openSeconds: number;
}

/** One timed pass of every query at setting `s`, one at a time. */
function timedPass(engine: Engine, data: Dataset, job: EngineJob, s: Setting, out: Uint32Array, lat: Float64Array, pass: 'warm' | 'cold'): SettingRow {
  const { k } = job;
  const dim = data.dim;
  const nq = data.queryCount;
  out.fill(0xffffffff);
  let bytes = 0;
  const io0 = ioCounters();
  const start = performance.now();
  for (let q = 0; q < nq; q++) {
    const t = performance.now();
    bytes += engine.searchOne(data.queries, q * dim, k, s, out, q * k);
    lat[q] = performance.now() - t;
  }
  const seconds = (performance.now() - start) / 1000;
  const io1 = ioCounters();
  lat.sort();
  return {
    engine: job.engine,
    params: s,
    recall: recallAtK(out, k, data.groundTruth, data.gtK, nq),
    qps: nq / seconds,
    qpsAllCores: 0,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    bytesReadPerQuery: bytes / nq,
    deviceBytesPerQuery: (io1.readBytes - io0.readBytes) / nq,
    majorFaultsPerQuery: (io1.majorFaults - io0.majorFaults) / nq,
    pass,
  };
}

async function main(job: EngineJob) {
  if (job.mode === 'build') {
    const nodeBaseline = rssAnonBytes(); // the bare process, before the dataset is loaded
    const peak = watchPeakAnon();
    const data = await loadDataset(job.dataset);
    const engine = makeEngine(job.engine, { workDir: job.workDir, metric: data.metric, dim: data.dim, rebuild: job.rebuild, threads: job.threads, spec: job.spec, headRatio: job.headRatio });
    const r = await engine.build(data, (stage, done, total) => send({ type: 'progress', stage, done, total }));
    // Peak anonymous RSS of the build process above the bare Node process: the loaded dataset (vectors
    // 1× raw, plus queries and ground truth) and everything the build allocates — not the pages of the
    // index file mapped by the calibration's searches (page cache, dropped under pressure).
    send({ type: 'built', ...r, diskBytes: engine.diskBytes(), peakRssBytes: (await peak.stop()) - nodeBaseline });
    await engine.close();
    return;
  }
  // Search: only queries and ground truth are needed, except by the exact engine (its index IS the data).
  const data = await loadDataset(job.dataset, { maxQueries: job.queries, withBase: job.engine === 'exact' });
  const engine = makeEngine(job.engine, { workDir: job.workDir, metric: data.metric, dim: data.dim, rebuild: false, threads: job.threads, readAhead: job.readAhead, spec: job.spec, headRatio: job.headRatio, maxLists: job.maxLists });
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = rssAnonBytes();
  const nq = data.queryCount;
  const out = new Uint32Array(nq * job.k);
  const lat = new Float64Array(nq);
  const t0 = performance.now();
  await engine.open(data);
  const openSeconds = (performance.now() - t0) / 1000;
  if (job.mode === 'cold') {
    // The first query alone: time from open to its answer (the files were evicted by the parent).
    const s = job.setting ?? engine.settings(false)[0];
    engine.searchOne(data.queries, 0, job.k, s, out, 0);
    const firstResultMs = performance.now() - t0;
    const row = timedPass(engine, data, job, s, out, lat, 'cold');
    row.firstResultMs = firstResultMs;
    row.qpsAllCores = NaN; // a cold pass is single-threaded
    send({ type: 'report', report: { engine: job.engine, rows: [row], rssAnonBytes: rssAnonBytes() - before, rssAnonAllCoresBytes: NaN, diskBytes: engine.diskBytes(), openSeconds } satisfies EngineReport });
    await engine.close();
    return;
  }
  const rows: SettingRow[] = [];
  const settings = engine.settings(job.sweep, job.ssd ?? false);
  // Warm-up, not timed: one pass of every query at the widest setting brings the JIT up and every
  // posting page any setting will read into the page cache (warm-cache numbers, as ann-benchmarks),
  // or, under a memory cap, as much of them as the cap lets stay.
  timedPass(engine, data, job, settings[settings.length - 1], out, lat, 'warm');
  for (const s of settings) {
    rows.push(timedPass(engine, data, job, s, out, lat, 'warm'));
    send({ type: 'progress', stage: `${job.engine} search`, done: rows.length, total: settings.length * 2 });
  }
  gc?.();
  const afterSingle = rssAnonBytes();
  // The single-thread rows now: a memory cap may end this process in the all-cores phase (each worker
  // holds its own copy of the head graph), and they are worth keeping.
  send({ type: 'partial', report: { engine: job.engine, rows, rssAnonBytes: afterSingle - before, rssAnonAllCoresBytes: NaN, diskBytes: engine.diskBytes(), openSeconds } satisfies EngineReport });
  // Warm-up of the worker pool (thread start, index open per worker), not timed.
  await engine.searchAll(data.queries.subarray(0, Math.min(nq, 64) * data.dim), job.k, settings[0]);
  for (let i = 0; i < settings.length; i++) {
    const start = performance.now();
    const ids = await engine.searchAll(data.queries, job.k, settings[i]);
    rows[i].qpsAllCores = nq / ((performance.now() - start) / 1000);
    const r = recallAtK(ids, job.k, data.groundTruth, data.gtK, nq);
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
