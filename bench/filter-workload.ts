/**
 * The workload of `strata bench filter`, derived deterministically from a dataset and a seed:
 *   - T tenants with Zipf(1) sizes, each row assigned to one at random;
 *   - one number attribute `bucket`, uniform in [0, 1000), for VectorDBBench-style selectivity;
 *   - cases: unfiltered, filters keeping 99% and 1%, queries scoped to tenants holding about 1% of
 *     the vectors, and queries scoped to tenants drawn in proportion to their size.
 * Ground truth per case is an exact search over exactly the rows each query may see.
 */
import type { Filter } from '../src/index/filter.js';
import { exactSearch } from '../src/index/exact.js';
import type { Metric } from '../src/index/distance.js';
import { createRng } from '../src/util/random.js';
import { join } from 'node:path';
import { HNSW_EF_CONSTRUCTION, HNSW_M } from './engines.js';

export interface Workload {
  tenantCount: number;
  /** Tenant index of each row. */
  tenantOfRow: Uint16Array;
  /** `bucket` attribute of each row. */
  bucketOfRow: Uint16Array;
  tenantSizes: Uint32Array;
}

export interface BenchCase {
  name: string;
  /** Filter shared by every query of the case (undefined = none). */
  filter?: Filter;
  /** Tenant index per query, or null for unscoped queries. */
  tenants: Int32Array | null;
  /** Mean fraction of the vectors a query may see. */
  selectivity: number;
}

export const tenantName = (t: number) => `t${String(t).padStart(4, '0')}`;

export function makeWorkload(n: number, tenantCount: number, seed: number): Workload {
  const rng = createRng(seed);
  const cdf = new Float64Array(tenantCount);
  let acc = 0;
  for (let t = 0; t < tenantCount; t++) cdf[t] = acc += 1 / (t + 1);
  const tenantOfRow = new Uint16Array(n);
  const bucketOfRow = new Uint16Array(n);
  const tenantSizes = new Uint32Array(tenantCount);
  for (let r = 0; r < n; r++) {
    const u = rng.next() * acc;
    let lo = 0, hi = tenantCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    tenantOfRow[r] = lo;
    tenantSizes[lo]++;
    bucketOfRow[r] = rng.int(1000);
  }
  return { tenantCount, tenantOfRow, bucketOfRow, tenantSizes };
}

export function makeCases(w: Workload, n: number, queries: number, seed: number): BenchCase[] {
  const rng = createRng(seed + 1);
  // Tenants holding about 1% of the vectors: the 8 whose size is closest to n/100.
  const order = [...w.tenantSizes.keys()].sort((a, b) => Math.abs(w.tenantSizes[a] - n / 100) - Math.abs(w.tenantSizes[b] - n / 100));
  const onePct = order.slice(0, 8);
  const tenant1 = Int32Array.from({ length: queries }, (_, q) => onePct[q % onePct.length]);
  // Traffic in proportion to tenant size.
  const cdf = Float64Array.from(w.tenantSizes);
  for (let t = 1; t < cdf.length; t++) cdf[t] += cdf[t - 1];
  const tenantZ = Int32Array.from({ length: queries }, () => {
    const u = rng.next() * cdf[cdf.length - 1];
    let t = 0;
    while (cdf[t] <= u) t++;
    return t;
  });
  const mean = (ts: Int32Array) => ts.reduce((s, t) => s + w.tenantSizes[t], 0) / ts.length / n;
  return [
    { name: 'unfiltered', tenants: null, selectivity: 1 },
    { name: 'filter 99%', filter: { bucket: { $lt: 990 } }, tenants: null, selectivity: 0.99 },
    { name: 'filter 1%', filter: { bucket: { $lt: 10 } }, tenants: null, selectivity: 0.01 },
    { name: 'tenant ~1%', tenants: tenant1, selectivity: mean(tenant1) },
    { name: 'tenant by traffic', tenants: tenantZ, selectivity: mean(tenantZ) },
  ];
}

/** Whether row r passes the case's filter (the bench's filters are ranges on `bucket`). */
export function passes(c: BenchCase, w: Workload, r: number): boolean {
  if (!c.filter) return true;
  const lt = (c.filter as { bucket: { $lt: number } }).bucket.$lt;
  return w.bucketOfRow[r] < lt;
}

/** k exact neighbours (row numbers) per query, among the rows each query may see. */
export async function caseGroundTruth(c: BenchCase, w: Workload, base: Float32Array, dim: number, metric: Metric, queries: Float32Array, k: number, threads: number): Promise<Uint32Array> {
  const nq = queries.length / dim;
  const n = base.length / dim;
  const out = new Uint32Array(nq * k).fill(0xffffffff);
  // Group queries by tenant (-1 = unscoped) and search each group over its allowed rows.
  const groups = new Map<number, number[]>();
  for (let q = 0; q < nq; q++) {
    const t = c.tenants ? c.tenants[q] : -1;
    let g = groups.get(t);
    if (!g) groups.set(t, (g = []));
    g.push(q);
  }
  for (const [t, qs] of groups) {
    const rows: number[] = [];
    for (let r = 0; r < n; r++) if ((t < 0 || w.tenantOfRow[r] === t) && passes(c, w, r)) rows.push(r);
    const sub = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => sub.set(base.subarray(r * dim, (r + 1) * dim), i * dim));
    const qsub = new Float32Array(qs.length * dim);
    qs.forEach((q, i) => qsub.set(queries.subarray(q * dim, (q + 1) * dim), i * dim));
    const kk = Math.min(k, rows.length);
    if (kk === 0) continue;
    const gt = await exactSearch(sub, qsub, dim, kk, { metric, threads });
    qs.forEach((q, i) => {
      for (let j = 0; j < kk; j++) out[q * k + j] = rows[gt.ids[i * kk + j]];
    });
  }
  return out;
}

/** recall@k of `got` (external ids = rows) against `truth`, counting only the truth's real entries. */
export function caseRecall(got: Uint32Array, truth: Uint32Array, k: number, nq: number): number {
  let hits = 0, total = 0;
  for (let q = 0; q < nq; q++) {
    const want = new Set<number>();
    for (let j = 0; j < k; j++) if (truth[q * k + j] !== 0xffffffff) want.add(truth[q * k + j]);
    total += want.size;
    for (let j = 0; j < k; j++) if (want.has(got[q * k + j])) hits++;
  }
  return total === 0 ? 1 : hits / total;
}

export type FilterEngineName = 'strata' | 'strata-plain' | 'hnswlib' | 'per-tenant';
export const FILTER_ENGINES: FilterEngineName[] = ['strata', 'strata-plain', 'hnswlib', 'per-tenant'];

/** The settings every process of a filter benchmark run shares. */
export interface FilterSettings {
  dataset: string;
  tenants: number;
  seed: number;
  k: number;
  queries: number;
  maxLists: number[];
  ef: number[];
  rebuild: boolean;
  threads: number;
}

export interface FilterJob extends FilterSettings {
  mode: 'build' | 'search';
  engine: FilterEngineName;
  workDir: string;
  /** Folder of the ground-truth files (one per case). */
  gtDir: string;
}

export interface FilterRow {
  engine: FilterEngineName;
  case: string;
  selectivity: number;
  params: Record<string, number>;
  recall: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  /** Bytes read from the device per query (/proc/self/io), timed pass. */
  deviceBytesPerQuery: number;
  /** Major page faults per query, timed pass. */
  majorFaultsPerQuery: number;
  /** Strata: how many queries ran each plan. */
  plans?: Record<string, number>;
  /** The memory cap the engine ran under (bytes; 0 or absent = none). */
  capBytes?: number;
  /** Killed by the cap's OOM killer: the engine does not fit. */
  oom?: boolean;
  /** RssAnon growth of the engine's process from before open to after its last query. */
  rssAnonBytes: number;
  /** RssAnon growth from before open to just after open: the engine's index structures alone. */
  rssAnonOpenBytes: number;
}

export function engineDir(job: Pick<FilterJob, 'workDir' | 'tenants' | 'seed'>, engine: FilterEngineName): string {
  if (engine === 'strata') return join(job.workDir, `strata-filter-T${job.tenants}-s${job.seed}`);
  if (engine === 'strata-plain') return join(job.workDir, 'strata-plain');
  if (engine === 'per-tenant') return join(job.workDir, `strata-per-tenant-T${job.tenants}-s${job.seed}`);
  return join(job.workDir, `hnswlib-M${HNSW_M}-efc${HNSW_EF_CONSTRUCTION}.bin`);
}

