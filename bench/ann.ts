/**
 * `strata bench ann`: build (or reuse) each engine's index, sweep its search settings, and print one
 * table of recall@k, QPS (single thread and all cores), p50/p99 latency, build time, RssAnon growth,
 * on-disk bytes and bytes read per query; with --memory-cap and --cold also under a memory cgroup and
 * on an evicted page cache (the SSD regime: bytes read from the device, page faults, read
 * amplification, time to first result). Every engine is built and measured in a child process of its
 * own (bench/ann-engine.ts) so memory figures do not mix.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { loadDataset, DATASETS_DIR, INDEXES_DIR } from '../src/datasets/registry.js';
import { createProgress } from '../src/util/progress.js';
import { runEngineChild } from './engine-process.js';
import type { EngineJob, EngineReport, SettingRow } from './ann-engine.js';
import { ENGINES, type EngineName, makeEngine } from './engines.js';
import { capLabel, evictFromPageCache, MemoryCgroup, parseMemoryCap } from './memory-cap.js';
import { type Column, fmtBytes, formatTable, qpsAtRecall, recallQpsSvg } from './report.js';
import { deviceReadBandwidth } from '../src/storage/page-cache.js';

export interface AnnBenchOptions {
  dataset: string;
  k: number;
  sweep: boolean;
  engines: EngineName[];
  /** Queries measured (the first N of the query set). */
  queries: number;
  rebuild: boolean;
  threads: number;
  json?: string;
  svg?: string;
  /** Where index files go; default datasets/<dataset>/indexes. */
  workDir?: string;
  /**
   * Also measure each engine in a memory cgroup of this size (memory-cap.ts syntax: "256", "1GiB",
   * "15%raw"), its files evicted from the page cache first; rows beside the uncapped ones.
   */
  memoryCap?: string;
  /** Also time a first pass on an evicted page cache, per setting (under the cap when there is one). */
  cold?: boolean;
  /** Kernel readahead on strata's index file (default: strata's default, off). */
  readAhead?: boolean;
  /** strata's index spec (default float32 lists). */
  spec?: string;
  /** strata's headRatio (build option; default the library's). */
  headRatio?: number;
  /** strata's maxLists settings (default: 8,16,32, or the sweep's). */
  maxLists?: number[];
}

export interface AnnRow extends SettingRow {
  dataset: string;
  k: number;
  buildSeconds: number;
  buildReused: boolean;
  /** Peak RSS of the build process above the bare Node process (dataset + build), when built in this run. */
  buildPeakRssBytes: number;
  rssAnonBytes: number;
  rssAnonAllCoresBytes: number;
  diskBytes: number;
  rawVectorBytes: number;
  /** The memory cap the row was measured under (bytes; 0 = none). */
  capBytes: number;
  /** Killed by the cap's OOM killer: the engine does not fit (its other figures are NaN). */
  oom?: boolean;
  /** Killed by the cap in the all-cores phase (every worker thread loads its own head graph): single-thread figures only. */
  allCoresOom?: boolean;
  /** Peak bytes charged to the cap's cgroup (page cache included). */
  cgroupPeakBytes?: number;
  /**
   * strata, capped or cold: the device bytes this setting read per second (device/query × QPS 1T) as a
   * share of the device's random-read bandwidth at the setting's mean list size (O_DIRECT probe on
   * the index file, 32 reads in flight) — how close the row runs to the physical limit.
   */
  deviceShare?: number;
  /** The probed bandwidth (bytes/s) and block size that deviceShare divides by. */
  deviceBandwidth?: number;
  probeBlockBytes?: number;
}

/** Bandwidth probes by block size, once per run (bench ann --memory-cap/--cold). */
function probeDevice(file: string, rows: AnnRow[], log: (s: string) => void): void {
  const probed = new Map<number, number>();
  for (const r of rows) {
    if (r.engine !== 'strata' || r.oom || !(r.capBytes > 0 || r.pass === 'cold') || !r.params.maxLists || !(r.deviceBytesPerQuery > 0)) continue;
    const block = Math.max(4096, Math.ceil(r.bytesReadPerQuery / r.params.maxLists / 4096) * 4096);
    let bw = probed.get(block);
    if (bw === undefined) {
      try {
        bw = deviceReadBandwidth(file, block);
      } catch (err) {
        log(`device probe skipped: ${(err as Error).message}`); // e.g. tmpfs has no O_DIRECT
        return;
      }
      probed.set(block, bw);
      log(`device: ${fmtBytes(bw)}/s of random ${fmtBytes(block)} reads (O_DIRECT, 32 in flight, ${file})`);
    }
    Object.assign(r, { deviceShare: (r.deviceBytesPerQuery * r.qps) / bw, deviceBandwidth: bw, probeBlockBytes: block });
  }
}


export async function runAnnBench(o: AnnBenchOptions, log: (s: string) => void = console.log): Promise<AnnRow[]> {
  const ui = createProgress();
  const data = await loadDataset(o.dataset, { report: ui.update, withBase: false }); // the engines' processes load what they need
  ui.stop();
  const workDir = o.workDir ?? join(DATASETS_DIR, data.name, INDEXES_DIR);
  mkdirSync(workDir, { recursive: true });
  const nq = Math.min(o.queries, data.queryCount);
  const rawVectorBytes = data.baseCount * data.dim * 4;
  const capBytes = o.memoryCap ? parseMemoryCap(o.memoryCap, rawVectorBytes) : 0;
  const ssd = capBytes > 0 || Boolean(o.cold);
  log(`dataset ${data.name}: ${data.baseCount} × ${data.dim} (${data.metric}), ${nq} queries, k=${o.k}, ${availableParallelism()} cores${capBytes ? `, memory cap ${capLabel(capBytes)}` : ''}`);
  const rows: AnnRow[] = [];
  for (const engine of o.engines) {
    const base: Omit<EngineJob, 'mode'> = { engine, dataset: o.dataset, workDir, k: o.k, queries: nq, sweep: o.sweep, rebuild: o.rebuild, threads: o.threads, ...(o.readAhead === undefined ? {} : { readAhead: o.readAhead }), ...(o.spec ? { spec: o.spec } : {}), ...(o.headRatio ? { headRatio: o.headRatio } : {}), ...(o.maxLists ? { maxLists: o.maxLists } : {}) };
    const built = await runEngineChild('ann-engine', { ...base, mode: 'build' }, ui);
    ui.stop();
    // The engine as the parent sees it (no index opened): its files and its settings.
    const shape = makeEngine(engine, { workDir, metric: data.metric, dim: data.dim, rebuild: false, threads: o.threads, spec: o.spec, headRatio: o.headRatio, maxLists: o.maxLists });
    const files = shape.files();
    const common = {
      dataset: data.name,
      k: o.k,
      buildSeconds: Number(built.seconds),
      buildReused: Boolean(built.reused),
      buildPeakRssBytes: built.reused ? NaN : Number(built.peakRssBytes),
      rawVectorBytes,
    };
    const addReport = (res: Record<string, unknown>, cap: number, cg?: MemoryCgroup) => {
      const partial = res.type === 'oom' ? (res.partial as Record<string, unknown> | undefined) : undefined;
      if (partial) {
        // Killed in the all-cores phase: the single-thread rows stand, all-cores is marked.
        const report = partial.report as EngineReport;
        for (const r of report.rows) rows.push({ ...r, ...common, qpsAllCores: NaN, allCoresOom: true, rssAnonBytes: report.rssAnonBytes, rssAnonAllCoresBytes: NaN, diskBytes: report.diskBytes, capBytes: cap, cgroupPeakBytes: Number(res.peakBytes) });
        return;
      }
      if (res.type === 'oom') {
        rows.push({ ...common, engine, params: {}, recall: NaN, qps: NaN, qpsAllCores: NaN, p50Ms: NaN, p99Ms: NaN, bytesReadPerQuery: NaN, deviceBytesPerQuery: NaN, majorFaultsPerQuery: NaN, pass: 'warm', rssAnonBytes: NaN, rssAnonAllCoresBytes: NaN, diskBytes: NaN, capBytes: cap, oom: true, cgroupPeakBytes: Number(res.peakBytes) });
        return;
      }
      const report = res.report as EngineReport;
      for (const r of report.rows) {
        rows.push({ ...r, ...common, rssAnonBytes: report.rssAnonBytes, rssAnonAllCoresBytes: report.rssAnonAllCoresBytes, diskBytes: report.diskBytes, capBytes: cap, ...(cg ? { cgroupPeakBytes: cg.peakBytes() } : {}) });
      }
    };
    const run = async (job: EngineJob, cap: number) => {
      evictFromPageCache(...files);
      const cg = cap > 0 ? MemoryCgroup.create(cap) : undefined;
      try {
        const res = await runEngineChild('ann-engine', job, ui, cg);
        ui.stop();
        addReport(res, cap, cg);
        return res.type !== 'oom' || res.partial !== undefined;
      } finally {
        cg?.remove();
      }
    };
    // Uncapped, warm page cache: the baseline (and the only run without --memory-cap/--cold).
    const search: EngineJob = { ...base, mode: 'search', ssd };
    addReport(await runEngineChild('ann-engine', search, ui), 0);
    ui.stop();
    let fits = true;
    if (capBytes > 0) fits = await run(search, capBytes);
    if (o.cold && fits) {
      // The settings the warm run timed (strata's depend on its index: the budgets of its recall curve).
      const settings = rows.filter((r) => r.engine === engine && r.capBytes === 0 && r.pass === 'warm' && !r.oom).map((r) => r.params);
      for (const setting of settings) if (!(await run({ ...base, mode: 'cold', setting }, capBytes))) break;
    }
    if (ssd && engine === 'strata' && existsSync(files[0])) probeDevice(files[0], rows, log);
  }
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const columns: Column<AnnRow>[] = [
    { title: 'engine', value: (r) => r.engine },
    { title: 'params', value: (r) => (r.oom ? `does not fit (OOM at ${capLabel(r.capBytes)})` : Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(',') || '-') },
    ...(ssd ? [{ title: 'cap', value: (r: AnnRow) => (r.capBytes ? capLabel(r.capBytes) : 'none') }, { title: 'pass', value: (r: AnnRow) => r.pass }] : []),
    { title: `recall@${o.k}`, value: (r) => f(r.recall, 4) },
    { title: 'QPS 1T', value: (r) => f(r.qps) },
    { title: 'QPS all', value: (r) => (r.allCoresOom ? 'OOM' : f(r.qpsAllCores)) },
    { title: 'p50 ms', value: (r) => f(r.p50Ms, 3) },
    { title: 'p99 ms', value: (r) => f(r.p99Ms, 3) },
  ];
  if (ssd) {
    columns.push(
      { title: 'first ms', value: (r) => (r.firstResultMs === undefined ? '-' : f(r.firstResultMs, 1)) },
      { title: 'read/query', value: (r) => (Number.isFinite(r.bytesReadPerQuery) ? fmtBytes(r.bytesReadPerQuery) : '-') },
      { title: 'device/query', value: (r) => (Number.isFinite(r.deviceBytesPerQuery) ? fmtBytes(r.deviceBytesPerQuery) : '-') },
      { title: 'read amp', value: (r) => (r.bytesReadPerQuery > 0 ? `${f(r.deviceBytesPerQuery / r.bytesReadPerQuery, 2)}×` : '-') },
      { title: 'majflt/q', value: (r) => f(r.majorFaultsPerQuery, 1) },
      { title: 'of device', value: (r) => (r.deviceShare === undefined ? '-' : `${f(100 * r.deviceShare)}%`) },
      { title: 'cgroup peak', value: (r) => (r.cgroupPeakBytes ? fmtBytes(r.cgroupPeakBytes) : '-') },
      { title: 'disk', value: (r) => (Number.isFinite(r.diskBytes) ? fmtBytes(r.diskBytes) : '-') },
    );
  } else {
    // The first engine against each other one at equal recall: its QPS over theirs, interpolated
    // between their two sweep points around its recall.
    const [first, ...peers] = o.engines;
    for (const peer of peers) {
      const points = rows.filter((r) => r.engine === peer && !r.oom && r.pass === 'warm');
      columns.push({ title: `vs ${peer}`, value: (r) => (r.engine === first && !r.oom ? `${f(r.qps / qpsAtRecall(points, r.recall), 2)}×`.replace('-×', '-') : '') });
    }
    columns.push(
      { title: 'build s', value: (r) => (r.buildReused ? 'reused' : f(r.buildSeconds, 1)) },
      { title: 'build peak', value: (r) => (r.buildReused ? '-' : `${f(r.buildPeakRssBytes / rawVectorBytes, 2)}× raw`) },
      { title: 'RssAnon', value: (r) => fmtBytes(r.rssAnonBytes) },
      { title: 'RssAnon/raw', value: (r) => `${f((100 * r.rssAnonBytes) / rawVectorBytes, 1)}%` },
      { title: 'disk', value: (r) => fmtBytes(r.diskBytes) },
      { title: 'read/query', value: (r) => fmtBytes(r.bytesReadPerQuery) },
    );
  }
  log(formatTable(rows, columns));
  log(`raw float32 vectors: ${fmtBytes(rawVectorBytes)}. RssAnon: growth from just before the engine opens its index to after its single-thread queries, in its own process. build peak: peak anonymous RSS of the build process above bare Node (includes the loaded dataset; mapped index pages are not counted).`);
  if (ssd) {
    log(`cap: the engine's process ran in a memory cgroup of that size (page cache counted), its files evicted first. pass warm: timed after one untimed pass; cold: the first pass after eviction (first ms: open to first answer). read/query: posting bytes the query needed; device/query: bytes read from the device (/proc/self/io); read amp = device / needed; majflt/q: major page faults per query; of device: device/query × QPS 1T as a share of the device's random-read bandwidth at the mean list size (probed). QPS all "OOM": the cap ended the process in the all-cores phase (with batchGraph 'per-worker' each batch worker loads its own head graph).`);
  }
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), dataset: data.name, k: o.k, queries: nq, capBytes, rows }, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
  if (o.svg) {
    const series = o.engines.flatMap((e) =>
      [...new Set(rows.filter((r) => r.engine === e && !r.oom && r.pass === 'warm').map((r) => r.capBytes))].map((cap) => ({
        name: cap ? `${e} (cap ${capLabel(cap)})` : e,
        points: rows.filter((r) => r.engine === e && !r.oom && r.pass === 'warm' && r.capBytes === cap).map((r) => ({ x: r.recall, y: r.qps, label: JSON.stringify(r.params) })),
      })),
    );
    writeFileSync(o.svg, recallQpsSvg(`${data.name}: recall@${o.k} vs QPS`, series, `recall@${o.k}`));
    log(`wrote ${o.svg}`);
  }
  return rows;
}

export { ENGINES };
