/**
 * Balanced k-means over a subset of rows of a flat n×d buffer (squared L2). Centres are trained by
 * Lloyd iterations on a sample (k-means++ seeding); every row of the subset is then assigned under a
 * capacity: no cluster takes more than maxImbalance × the mean cluster size, a row whose nearest
 * centre is full goes to its next nearest with room. (A size penalty in the cost, as SPTAG does,
 * oscillated and emptied clusters on near-isotropic data; a hard capacity cannot.)
 */
import { l2Squared } from './distance.js';
import { batchKernel } from './kernels.js';

const l2Batch = batchKernel('l2');
import { type Rng, sampleWithoutReplacement } from '../util/random.js';

export interface KMeansOptions {
  iterations: number;
  samplePerCluster: number;
  /** Largest cluster size allowed, as a multiple of the mean size; 0 = unconstrained. */
  maxImbalance: number;
}

export interface KMeansResult {
  k: number;
  centers: Float32Array;
  /** Cluster of each row of `rows`, in the order of `rows`. */
  assignment: Uint32Array;
  sizes: Uint32Array;
}

function kmeansPlusPlus(data: Float32Array, dim: number, sample: Uint32Array, k: number, rng: Rng): Float32Array {
  const centers = new Float32Array(k * dim);
  const m = sample.length;
  const best = new Float64Array(m).fill(Infinity);
  let chosen = sample[rng.int(m)];
  for (let c = 0; c < k; c++) {
    centers.set(data.subarray(chosen * dim, chosen * dim + dim), c * dim);
    if (c === k - 1) break;
    let total = 0;
    for (let i = 0; i < m; i++) {
      const d = l2Squared(data, sample[i] * dim, centers, c * dim, dim);
      if (d < best[i]) best[i] = d;
      total += best[i];
    }
    if (total === 0) {
      chosen = sample[rng.int(m)];
      continue;
    }
    let r = rng.next() * total;
    let pick = m - 1;
    for (let i = 0; i < m; i++) {
      r -= best[i];
      if (r <= 0) {
        pick = i;
        break;
      }
    }
    chosen = sample[pick];
  }
  return centers;
}

/** Assign rows to their nearest centre; returns the mean distance. */
function assignNearest(data: Float32Array, dim: number, rows: Uint32Array, centers: Float32Array, k: number, out: Uint32Array, sizes: Uint32Array): number {
  sizes.fill(0);
  let sum = 0;
  const dist = new Float32Array(k);
  for (let i = 0; i < rows.length; i++) {
    l2Batch(data, rows[i] * dim, centers, 0, k, dim, dist, 0);
    let bestC = 0;
    let bestD = Infinity;
    for (let c = 0; c < k; c++) {
      const d = dist[c];
      if (d < bestD) {
        bestD = d;
        bestC = c;
      }
    }
    out[i] = bestC;
    sizes[bestC]++;
    sum += bestD;
  }
  return rows.length > 0 ? sum / rows.length : 0;
}

/** Assign rows to the nearest centre that still has room (rows taken in a seeded random order). */
function assignWithCapacity(
  data: Float32Array,
  dim: number,
  rows: Uint32Array,
  centers: Float32Array,
  k: number,
  capacity: number,
  out: Uint32Array,
  sizes: Uint32Array,
  rng: Rng,
): void {
  sizes.fill(0);
  const m = rows.length;
  const order = new Uint32Array(m);
  for (let i = 0; i < m; i++) order[i] = i;
  for (let i = m - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const dist = new Float32Array(k);
  const rank = Array.from({ length: k }, (_, c) => c);
  for (let t = 0; t < m; t++) {
    const i = order[t];
    l2Batch(data, rows[i] * dim, centers, 0, k, dim, dist, 0);
    let chosen = 0;
    for (let c = 1; c < k; c++) if (dist[c] < dist[chosen]) chosen = c;
    if (sizes[chosen] >= capacity) {
      rank.sort((a, b) => dist[a] - dist[b]);
      for (let r = 0; r < k; r++) {
        if (sizes[rank[r]] < capacity) {
          chosen = rank[r];
          break;
        }
      }
    }
    out[i] = chosen;
    sizes[chosen]++;
  }
}

export function balancedKMeans(
  data: Float32Array,
  dim: number,
  rows: Uint32Array,
  k: number,
  options: KMeansOptions,
  rng: Rng,
): KMeansResult {
  k = Math.min(k, rows.length);
  const sample = sampleWithoutReplacement(rows, Math.min(rows.length, k * options.samplePerCluster), rng);
  const centers = kmeansPlusPlus(data, dim, sample, k, rng);
  const sampleAssign = new Uint32Array(sample.length);
  const sizes = new Uint32Array(k);
  const sums = new Float64Array(k * dim);
  for (let it = 0; it < options.iterations; it++) {
    assignNearest(data, dim, sample, centers, k, sampleAssign, sizes);
    // Recompute centres; an emptied cluster is re-seeded on a random sample point.
    sums.fill(0);
    for (let i = 0; i < sample.length; i++) {
      const off = sample[i] * dim;
      const c = sampleAssign[i] * dim;
      for (let j = 0; j < dim; j++) sums[c + j] += data[off + j];
    }
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0) {
        const p = sample[rng.int(sample.length)];
        centers.set(data.subarray(p * dim, p * dim + dim), c * dim);
        continue;
      }
      const inv = 1 / sizes[c];
      for (let j = 0; j < dim; j++) centers[c * dim + j] = sums[c * dim + j] * inv;
    }
  }
  const assignment = new Uint32Array(rows.length);
  if (options.maxImbalance > 0) {
    const capacity = Math.max(1, Math.ceil((rows.length / k) * options.maxImbalance));
    assignWithCapacity(data, dim, rows, centers, k, capacity, assignment, sizes, rng);
  } else assignNearest(data, dim, rows, centers, k, assignment, sizes);
  return { k, centers, assignment, sizes };
}
