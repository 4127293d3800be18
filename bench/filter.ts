/**
 * `strata bench filter`: VectorDBBench-style filtered and multi-tenant cases on one dataset, every
 * engine built and measured in a child process of its own (bench/filter-engine.ts):
 * recall@k, single-thread QPS, p50/p99 latency and RssAnon growth per engine and case.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset, DATASETS_DIR, INDEXES_DIR } from '../src/datasets/registry.js';
import { createProgress } from '../src/util/progress.js';
import { resolveThreads } from '../src/util/workers.js';
import { runEngineChild } from './engine-process.js';
import { capLabel, evictFromPageCache, MemoryCgroup, parseMemoryCap } from './memory-cap.js';
import {
  FILTER_ENGINES,
  type FilterEngineName,
  type FilterRow,
  type FilterSettings,
  caseGroundTruth,
  engineDir,
  makeCases,
  makeWorkload,
} from './filter-workload.js';
import { fmtBytes, formatTable } from './report.js';

export interface FilterBenchOptions extends FilterSettings {
  engines: FilterEngineName[];
  json?: string;
  /** Run each engine's search process in a memory cgroup of this size (memory-cap.ts syntax), its files evicted first. */
  memoryCap?: string;
}



export async function runFilterBench(o: FilterBenchOptions, log: (line: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<FilterRow[]> {
  const ui = createProgress();
  const data = await loadDataset(o.dataset, { maxQueries: o.queries, report: ui.update });
  const nq = data.queryCount;
  const workDir = join(DATASETS_DIR, data.name, INDEXES_DIR);
  const gtDir = join(workDir, `filter-gt-T${o.tenants}-s${o.seed}-q${nq}-k${o.k}`);
  const w = makeWorkload(data.baseCount, o.tenants, o.seed);
  const cases = makeCases(w, data.baseCount, nq, o.seed);
  log(`dataset ${data.name}: ${data.baseCount} × ${data.dim} (${data.metric}), ${nq} queries, k=${o.k}; ${o.tenants} Zipf tenants (largest ${w.tenantSizes[0]}, median ${[...w.tenantSizes].sort((a, b) => a - b)[o.tenants >> 1]})`);
  if (!existsSync(join(gtDir, 'done'))) {
    mkdirSync(gtDir, { recursive: true });
    for (let ci = 0; ci < cases.length; ci++) {
      ui.update('ground truth', ci, cases.length);
      const gt = await caseGroundTruth(cases[ci], w, data.base, data.dim, data.metric, data.queries, o.k, o.threads);
      writeFileSync(join(gtDir, `case-${ci}.u32`), gt);
    }
    writeFileSync(join(gtDir, 'done'), '');
  }
  const threads = resolveThreads(o.threads);
  const base = { dataset: o.dataset, workDir, gtDir, tenants: o.tenants, seed: o.seed, k: o.k, queries: nq, maxLists: o.maxLists, ef: o.ef, rebuild: o.rebuild, threads };
  const builds = new Map<string, number>();
  for (const engine of o.engines) {
    const r = await runEngineChild('filter-engine', { ...base, mode: 'build', engine }, ui);
    builds.set(engine, Number(r.seconds));
  }
  const rows: FilterRow[] = [];
  const capBytes = o.memoryCap ? parseMemoryCap(o.memoryCap, data.baseCount * data.dim * 4) : 0;
  for (const engine of o.engines) {
    if (!capBytes) {
      const r = await runEngineChild('filter-engine', { ...base, mode: 'search', engine }, ui);
      rows.push(...(r.rows as FilterRow[]));
      continue;
    }
    evictFromPageCache(engineDir(base, engine));
    const cg = MemoryCgroup.create(capBytes);
    try {
      const r = await runEngineChild('filter-engine', { ...base, mode: 'search', engine }, ui, cg);
      if (r.type === 'oom') {
        rows.push({ engine, case: 'all', selectivity: NaN, params: {}, recall: NaN, qps: NaN, p50Ms: NaN, p99Ms: NaN, deviceBytesPerQuery: NaN, majorFaultsPerQuery: NaN, rssAnonBytes: NaN, rssAnonOpenBytes: NaN, capBytes, oom: true });
      } else {
        rows.push(...(r.rows as FilterRow[]).map((row) => ({ ...row, capBytes })));
      }
    } finally {
      cg.remove();
    }
  }
  ui.stop();
  log(
    formatTable(rows, [
      { title: 'case', value: (r) => r.case },
      { title: 'selectivity', value: (r) => `${(100 * r.selectivity).toFixed(2)}%` },
      { title: 'engine', value: (r) => r.engine },
      { title: 'params', value: (r) => (r.oom ? `does not fit (OOM at ${capLabel(r.capBytes ?? 0)})` : Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ')) },
      { title: `recall@${o.k}`, value: (r) => r.recall.toFixed(4) },
      { title: 'QPS 1T', value: (r) => r.qps.toFixed(0) },
      { title: 'p50 ms', value: (r) => r.p50Ms.toFixed(3) },
      { title: 'p99 ms', value: (r) => r.p99Ms.toFixed(3) },
      ...(capBytes
        ? [
            { title: 'cap', value: () => capLabel(capBytes) },
            { title: 'device/query', value: (r: FilterRow) => fmtBytes(r.deviceBytesPerQuery) },
            { title: 'majflt/q', value: (r: FilterRow) => r.majorFaultsPerQuery.toFixed(1) },
          ]
        : []),
      { title: 'RssAnon open', value: (r) => fmtBytes(r.rssAnonOpenBytes) },
      { title: 'RssAnon end', value: (r) => fmtBytes(r.rssAnonBytes) },
      { title: 'plans', value: (r) => (r.plans ? Object.entries(r.plans).map(([k, v]) => `${k}:${v}`).join(' ') : '') },
    ]),
  );
  const plain = rows.find((r) => r.engine === 'strata-plain');
  const tenanted = rows.find((r) => r.engine === 'strata');
  if (plain && tenanted) {
    const pct = (a: number, b: number) => `${((100 * (a - b)) / b).toFixed(1)}%`;
    log(
      `memory overhead of tenancy + attributes: ${fmtBytes(tenanted.rssAnonOpenBytes - plain.rssAnonOpenBytes)} after open (${pct(tenanted.rssAnonOpenBytes, plain.rssAnonOpenBytes)} of the untenanted index's ${fmtBytes(plain.rssAnonOpenBytes)}), ` +
        `${fmtBytes(tenanted.rssAnonBytes - plain.rssAnonBytes)} after every case ran (${pct(tenanted.rssAnonBytes, plain.rssAnonBytes)}; includes the JS heap's high-water mark)`,
    );
  }
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), dataset: data.name, k: o.k, queries: nq, tenants: o.tenants, seed: o.seed, builds: Object.fromEntries(builds), rows }, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
  return rows;
}

export { FILTER_ENGINES };
