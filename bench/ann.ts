/**
 * `strata bench ann`: build (or reuse) each engine's index, sweep its search settings, and print one
 * table of recall@k, QPS (single thread and all cores), p50/p99 latency, build time, RssAnon growth,
 * on-disk bytes and bytes read per query. Every engine is built and measured in a child process of its
 * own (bench/ann-engine.ts) so memory figures do not mix.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { loadDataset, DATASETS_DIR } from '../src/datasets/registry.js';
import { createProgress } from '../src/util/progress.js';
import { runEngineChild } from './engine-process.js';
import type { EngineJob, EngineReport, SettingRow } from './ann-engine.js';
import { ENGINES, type EngineName } from './engines.js';
import { fmtBytes, formatTable, recallQpsSvg } from './report.js';

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
}


export async function runAnnBench(o: AnnBenchOptions, log: (s: string) => void = console.log): Promise<AnnRow[]> {
  const ui = createProgress();
  const data = await loadDataset(o.dataset, { report: ui.update });
  ui.stop();
  const workDir = o.workDir ?? join(DATASETS_DIR, data.name, 'indexes');
  mkdirSync(workDir, { recursive: true });
  const nq = Math.min(o.queries, data.queryCount);
  log(`dataset ${data.name}: ${data.baseCount} × ${data.dim} (${data.metric}), ${nq} queries, k=${o.k}, ${availableParallelism()} cores`);
  const rawVectorBytes = data.baseCount * data.dim * 4;
  const rows: AnnRow[] = [];
  for (const engine of o.engines) {
    const base: Omit<EngineJob, 'mode'> = { engine, dataset: o.dataset, workDir, k: o.k, queries: nq, sweep: o.sweep, rebuild: o.rebuild, threads: o.threads };
    const built = await runEngineChild('ann-engine', { ...base, mode: 'build' }, ui);
    ui.stop();
    const res = await runEngineChild('ann-engine', { ...base, mode: 'search' }, ui);
    ui.stop();
    const report = res.report as EngineReport;
    for (const r of report.rows) {
      rows.push({
        ...r,
        dataset: data.name,
        k: o.k,
        buildSeconds: Number(built.seconds),
        buildReused: Boolean(built.reused),
        buildPeakRssBytes: built.reused ? NaN : Number(built.peakRssBytes),
        rssAnonBytes: report.rssAnonBytes,
        rssAnonAllCoresBytes: report.rssAnonAllCoresBytes,
        diskBytes: report.diskBytes,
        rawVectorBytes,
      });
    }
  }
  const f = (x: number, d = 0) => x.toFixed(d);
  log(
    formatTable(rows, [
      { title: 'engine', value: (r) => r.engine },
      { title: 'params', value: (r) => Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(',') || '-' },
      { title: `recall@${o.k}`, value: (r) => f(r.recall, 4) },
      { title: 'QPS 1T', value: (r) => f(r.qps) },
      { title: 'QPS all', value: (r) => f(r.qpsAllCores) },
      { title: 'p50 ms', value: (r) => f(r.p50Ms, 3) },
      { title: 'p99 ms', value: (r) => f(r.p99Ms, 3) },
      { title: 'build s', value: (r) => (r.buildReused ? 'reused' : f(r.buildSeconds, 1)) },
      { title: 'build peak', value: (r) => (r.buildReused ? '-' : `${f(r.buildPeakRssBytes / rawVectorBytes, 2)}× raw`) },
      { title: 'RssAnon', value: (r) => fmtBytes(r.rssAnonBytes) },
      { title: 'RssAnon/raw', value: (r) => `${f((100 * r.rssAnonBytes) / rawVectorBytes, 1)}%` },
      { title: 'disk', value: (r) => fmtBytes(r.diskBytes) },
      { title: 'read/query', value: (r) => fmtBytes(r.bytesReadPerQuery) },
    ]),
  );
  log(`raw float32 vectors: ${fmtBytes(rawVectorBytes)}. RssAnon: growth from just before the engine opens its index to after its single-thread queries, in its own process. build peak: peak RSS of the build process above bare Node (includes the loaded dataset). Warm page cache.`);
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), dataset: data.name, k: o.k, queries: nq, rows }, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
  if (o.svg) {
    const series = o.engines.map((e) => ({
      name: e,
      points: rows.filter((r) => r.engine === e).map((r) => ({ x: r.recall, y: r.qps, label: JSON.stringify(r.params) })),
    }));
    writeFileSync(o.svg, recallQpsSvg(`${data.name}: recall@${o.k} vs QPS`, series, `recall@${o.k}`));
    log(`wrote ${o.svg}`);
  }
  return rows;
}

export { ENGINES };
