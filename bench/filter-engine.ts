/**
 * Child process of `strata bench filter`: builds or measures ONE engine on the filter workload, so
 * each engine's memory is read in a process of its own. Job as JSON in argv[2]; answers over IPC.
 *
 *   strata      one shared index with 1,000 tenants and a `bucket` attribute (this project)
 *   strata-plain the same index without tenants or attributes: the memory and latency baseline
 *   hnswlib     hnswlib-node over all vectors with a filter callback (in-search filtering)
 *   per-tenant  one Strata index per queried tenant: the upper bound tenancy is compared with
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { loadDataset } from '../src/datasets/registry.js';
import { createIndex, openIndex, type SpannIndex } from '../src/index/spann.js';
import { DEFAULT_SEARCH_PARAMS } from '../src/index/options.js';
import { ioCounters, rssAnonBytes } from '../src/util/memory.js';
import { HNSW_EF_CONSTRUCTION, HNSW_M, budgetOf, reusableIndex } from './engines.js';
import { FORMAT_VERSION } from '../src/storage/index-store.js';
import { quantile, runAsChild, send } from './engine-process.js';
import { type BenchCase, caseRecall, engineDir, type FilterJob, type FilterRow, makeCases, makeWorkload, passes, tenantName, type Workload } from './filter-workload.js';


function readIfExists(file: string): string | null {
  return existsSync(file) && statSync(file).isFile() ? readFileSync(file, 'utf8') : null;
}

/** Tenants the per-tenant engine serves: those queried by the `tenant ~1%` case. */
function perTenantSet(cases: BenchCase[]): number[] {
  return [...new Set(cases.find((c) => c.name === 'tenant ~1%')!.tenants!)];
}

async function build(job: FilterJob) {
  const data = await loadDataset(job.dataset, { maxQueries: job.queries });
  const w = makeWorkload(data.baseCount, job.tenants, job.seed);
  const dir = engineDir(job, job.engine);
  const progress = (stage: string) => (p: { stage: string; done: number; total: number }) => send({ type: 'progress', stage: `${stage} ${p.stage}`, done: p.done, total: p.total });
  const t0 = performance.now();
  const done =
    job.engine === 'hnswlib' ? existsSync(dir) : job.engine === 'per-tenant' ? readIfExists(join(dir, 'done')) === String(FORMAT_VERSION) : reusableIndex(dir);
  if (done && !job.rebuild) return send({ type: 'built', seconds: 0, reused: true });
  rmSync(dir, { recursive: true, force: true });
  if (job.engine === 'strata' || job.engine === 'strata-plain') {
    const index = await createIndex(dir, { dimension: data.dim, metric: data.metric, threads: job.threads });
    if (job.engine === 'strata') {
      const tenants = Array.from(w.tenantOfRow, tenantName);
      const attributes = Array.from(w.bucketOfRow, (bucket) => ({ bucket }));
      await index.build(data.base, undefined, { tenants, attributes, onProgress: progress('strata') });
    } else await index.build(data.base, undefined, { onProgress: progress('strata-plain') });
    await index.close();
  } else if (job.engine === 'per-tenant') {
    mkdirSync(dir, { recursive: true });
    for (const t of perTenantSet(makeCases(w, data.baseCount, job.queries, job.seed))) {
      const rows = Uint32Array.from([...w.tenantOfRow.keys()].filter((r) => w.tenantOfRow[r] === t));
      const sub = new Float32Array(rows.length * data.dim);
      rows.forEach((r, i) => sub.set(data.base.subarray(r * data.dim, (r + 1) * data.dim), i * data.dim));
      const index = await createIndex(join(dir, tenantName(t)), { dimension: data.dim, metric: data.metric, threads: job.threads });
      await index.build(sub, rows, { onProgress: progress(tenantName(t)) });
      await index.close();
    }
    writeFileSync(join(dir, 'done'), String(FORMAT_VERSION));
  } else {
    const index = new hnswlib.HierarchicalNSW(data.metric === 'l2' ? 'l2' : data.metric === 'ip' ? 'ip' : 'cosine', data.dim);
    index.initIndex({ maxElements: data.baseCount, m: HNSW_M, efConstruction: HNSW_EF_CONSTRUCTION, randomSeed: 100 });
    const row = new Array<number>(data.dim);
    for (let i = 0; i < data.baseCount; i++) {
      for (let j = 0; j < data.dim; j++) row[j] = data.base[i * data.dim + j];
      index.addPoint(row, i);
      if ((i & 4095) === 4095) send({ type: 'progress', stage: 'hnswlib', done: i + 1, total: data.baseCount });
    }
    index.writeIndexSync(dir);
  }
  send({ type: 'built', seconds: (performance.now() - t0) / 1000, reused: false });
}


// biome-ignore lint/suspicious/noConfusingVoidType: an engine's search returns the plan it used, or nothing
type SearchFn = (q: Float32Array, c: BenchCase, qi: number, setting: Record<string, number>, out: Uint32Array) => string | void;

async function search(job: FilterJob) {
  const data = await loadDataset(job.dataset, { maxQueries: job.queries, withBase: false });
  const nq = data.queryCount, dim = data.dim, k = job.k;
  const w: Workload = makeWorkload(data.baseCount, job.tenants, job.seed);
  const cases = makeCases(w, data.baseCount, nq, job.seed);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = rssAnonBytes();
  const dir = engineDir(job, job.engine);
  let settings: Array<Record<string, number>>;
  let run: SearchFn;
  let applicable: (c: BenchCase) => boolean = () => true;
  const closers: Array<() => Promise<void>> = [];
  if (job.engine === 'strata' || job.engine === 'strata-plain') {
    const index = await openIndex(dir, { threads: job.threads });
    closers.push(() => index.close());
    settings = strataSettings(job.maxLists);
    if (job.engine === 'strata-plain') applicable = (c) => c.name === 'unfiltered';
    run = (q, c, qi, s, out) => {
      const r = index.search(q, k, { ...budgetOf(s), tenant: c.tenants ? tenantName(c.tenants[qi]) : undefined, filter: c.filter });
      out.set(r.ids);
      return r.plan;
    };
  } else if (job.engine === 'per-tenant') {
    const indexes = new Map<number, SpannIndex>();
    for (const t of perTenantSet(cases)) indexes.set(t, await openIndex(join(dir, tenantName(t)), { threads: job.threads }));
    closers.push(async () => {
      for (const ix of indexes.values()) await ix.close();
    });
    settings = strataSettings(job.maxLists);
    applicable = (c) => c.name === 'tenant ~1%';
    run = (q, c, qi, s, out) => {
      out.set(indexes.get(c.tenants![qi])!.search(q, k, budgetOf(s)).ids);
    };
  } else {
    const index = new hnswlib.HierarchicalNSW(data.metric === 'l2' ? 'l2' : data.metric === 'ip' ? 'ip' : 'cosine', dim);
    index.readIndexSync(dir);
    settings = job.ef.map((ef) => ({ ef }));
    const arr = new Array<number>(dim).fill(0);
    run = (q, c, qi, s, out) => {
      for (let j = 0; j < dim; j++) arr[j] = q[j];
      index.setEf(Math.max(s.ef, k));
      const t = c.tenants ? c.tenants[qi] : -1;
      const filter = c.tenants || c.filter ? (label: number) => (t < 0 || w.tenantOfRow[label] === t) && passes(c, w, label) : undefined;
      const r = index.searchKnn(arr, k, filter);
      for (let j = 0; j < r.neighbors.length; j++) out[j] = r.neighbors[j];
    };
  }
  gc?.();
  const opened = rssAnonBytes() - before;
  const rows: FilterRow[] = [];
  const got = new Uint32Array(nq * k);
  const lat = new Float64Array(nq);
  const active = cases.map((c, i) => [c, i] as const).filter(([c]) => applicable(c));
  let step = 0;
  for (const [c, ci] of active) {
    const file = readFileSync(join(job.gtDir, `case-${ci}.u32`));
    const truth = new Uint32Array(file.buffer.slice(file.byteOffset, file.byteOffset + file.length));
    for (const s of settings) {
      const plans: Record<string, number> = {};
      const one = new Uint32Array(k);
      // Warm-up pass (JIT, page cache), then the timed pass.
      let io0 = ioCounters();
      for (let pass = 0; pass < 2; pass++) {
        if (pass === 1) io0 = ioCounters();
        got.fill(0xffffffff);
        for (let qi = 0; qi < nq; qi++) {
          const q = data.queries.subarray(qi * dim, (qi + 1) * dim);
          one.fill(0xffffffff);
          const t = performance.now();
          const plan = run(q, c, qi, s, one);
          lat[qi] = performance.now() - t;
          got.set(one, qi * k);
          if (pass === 1 && plan) plans[plan] = (plans[plan] ?? 0) + 1;
        }
      }
      const io1 = ioCounters();
      const seconds = lat.reduce((x, y) => x + y, 0) / 1000;
      lat.sort();
      rows.push({
        engine: job.engine,
        case: c.name,
        selectivity: c.selectivity,
        params: s,
        recall: caseRecall(got, truth, k, nq),
        qps: nq / seconds,
        p50Ms: quantile(lat, 0.5),
        p99Ms: quantile(lat, 0.99),
        deviceBytesPerQuery: (io1.readBytes - io0.readBytes) / nq,
        majorFaultsPerQuery: (io1.majorFaults - io0.majorFaults) / nq,
        ...(Object.keys(plans).length ? { plans } : {}),
        rssAnonBytes: 0,
        rssAnonOpenBytes: opened,
      });
      send({ type: 'progress', stage: `${job.engine} search`, done: ++step, total: active.length * settings.length });
    }
  }
  gc?.();
  const grown = rssAnonBytes() - before;
  for (const r of rows) r.rssAnonBytes = grown;
  for (const close of closers) await close();
  send({ type: 'report', rows });
}

/**
 * strata's settings: what a user gets with no search parameters (targetRecall 0.95 from the index's
 * recall curve), then each fixed maxLists.
 */
function strataSettings(maxLists: number[]): Array<Record<string, number>> {
  return [{ targetRecall: DEFAULT_SEARCH_PARAMS.targetRecall }, ...maxLists.map((m) => ({ maxLists: m }))];
}

async function main(job: FilterJob) {
  if (job.mode === 'build') await build(job);
  else await search(job);
}

runAsChild(main);
