/**
 * Exact (brute-force) k-nearest-neighbour search: the reference answer for tests, ground truth and
 * benchmarks, and what `bypassIndex` runs. Single-threaded kernel plus a piscina-parallel driver.
 */
import { type Metric, normalizeRows } from './distance.js';
import { batchKernel } from './kernels.js';
import { TopK } from './topk.js';
import { checkK, checkVectors } from './validate.js';
import { createError } from '../errors.js';
import { createPool, resolveThreads, sharedFloat32, sharedUint32, toShared } from '../util/workers.js';

export interface KnnResult {
  /** k results per query, row-major; empty slots hold id 0xFFFFFFFF and distance Infinity. */
  ids: Uint32Array;
  distances: Float32Array;
  k: number;
  queries: number;
}

const QUERY_BLOCK = 8;
const BASE_TILE = 256;

/**
 * Exact search of queries [qStart, qEnd) over `base`, writing into out arrays at row qi * k.
 * Queries are processed in blocks against cache-sized tiles of the base, so each base tile is read from
 * memory once per block instead of once per query. `labels`, when given, maps base row -> returned id.
 * Vectors must already be normalised for cosine.
 */
export function exactSearchRange(
  base: Float32Array,
  queries: Float32Array,
  dim: number,
  metric: Metric,
  k: number,
  qStart: number,
  qEnd: number,
  outIds: Uint32Array,
  outDist: Float32Array,
  labels?: Uint32Array,
): void {
  const kernel = batchKernel(metric);
  const n = base.length / dim;
  const dists = new Float32Array(BASE_TILE);
  const heaps: TopK[] = [];
  for (let i = 0; i < QUERY_BLOCK; i++) heaps.push(new TopK(k));
  for (let q0 = qStart; q0 < qEnd; q0 += QUERY_BLOCK) {
    const q1 = Math.min(qEnd, q0 + QUERY_BLOCK);
    for (let t0 = 0; t0 < n; t0 += BASE_TILE) {
      const t1 = Math.min(n, t0 + BASE_TILE);
      for (let q = q0; q < q1; q++) {
        const heap = heaps[q - q0];
        const qOff = q * dim;
        kernel(queries, qOff, base, t0 * dim, t1 - t0, dim, dists, 0);
        let worst = heap.worst();
        for (let b = t0; b < t1; b++) {
          const d = dists[b - t0];
          if (d < worst) {
            heap.push(d, labels ? labels[b] : b);
            worst = heap.worst();
          }
        }
      }
    }
    for (let q = q0; q < q1; q++) heaps[q - q0].drainSorted(outIds, outDist, q * k);
  }
}

export interface ExactSearchOptions {
  metric?: Metric;
  /** Worker threads; 1 runs in the calling thread. Default: one per core for large jobs. */
  threads?: number;
  /** Map base row -> returned id. Default: the row number. */
  labels?: Uint32Array;
}

/** Below this many distance evaluations a job runs in the calling thread. */
const PARALLEL_THRESHOLD = 20_000_000;

/** Exact top-k of every query. Large jobs are spread over a piscina pool with shared memory. */
export async function exactSearch(
  base: Float32Array,
  queries: Float32Array,
  dim: number,
  k: number,
  options: ExactSearchOptions = {},
): Promise<KnnResult> {
  checkK(k);
  const metric = options.metric ?? 'l2';
  const n = checkVectors(base, dim, 'base');
  const nq = checkVectors(queries, dim, 'queries');
  if (options.labels && options.labels.length !== n) {
    throw createError('STRATA_INVALID_ID', `labels has ${options.labels.length} entries for ${n} vectors`, 'labels');
  }
  if (metric === 'cosine') {
    base = Float32Array.from(base);
    normalizeRows(base, dim);
    queries = Float32Array.from(queries);
    normalizeRows(queries, dim);
  }
  const threads = options.threads ?? (n * nq >= PARALLEL_THRESHOLD ? resolveThreads(0) : 1);
  if (threads <= 1 || nq < 2) {
    const ids = new Uint32Array(nq * k);
    const distances = new Float32Array(nq * k);
    exactSearchRange(base, queries, dim, metric, k, 0, nq, ids, distances, options.labels);
    return { ids, distances, k, queries: nq };
  }
  const sBase = toShared(base);
  const sQueries = toShared(queries);
  const sLabels = options.labels ? toShared(options.labels) : undefined;
  const ids = sharedUint32(nq * k);
  const distances = sharedFloat32(nq * k);
  const pool = createPool('index/exact-worker', threads);
  try {
    const chunk = Math.max(QUERY_BLOCK, Math.ceil(nq / (threads * 8) / QUERY_BLOCK) * QUERY_BLOCK);
    const tasks: Promise<void>[] = [];
    for (let s = 0; s < nq; s += chunk) {
      tasks.push(
        pool.run({ base: sBase, queries: sQueries, dim, metric, k, start: s, end: Math.min(nq, s + chunk), ids, distances, labels: sLabels }),
      );
    }
    await Promise.all(tasks);
  } finally {
    await pool.destroy();
  }
  return { ids, distances, k, queries: nq };
}
