/**
 * Stage 1 of the build: choose head vectors by hierarchical balanced k-means (SPTAG's BKT).
 *
 * Each tree node owns a subset of rows and a head budget proportional to its size
 * (headRatio * rows). A node whose budget fits the branching factor is clustered into `budget`
 * clusters and each cluster contributes the real data point nearest its centre; a larger node is
 * split into `branching` balanced clusters and the budget is shared among them. Heads are therefore
 * real points, denser regions get more heads, and the head count is about headRatio * n.
 */
import { l2Squared } from './distance.js';
import { balancedKMeans, type KMeansOptions } from './kmeans.js';
import { createRng, rowRange } from '../util/random.js';

export interface HeadSelectionOptions extends KMeansOptions {
  headCount: number;
  branching: number;
  seed: number;
  onProgress?: (rowsDone: number) => void;
}

/** The row nearest to `center` among `rows`. */
function nearestRow(data: Float32Array, dim: number, rows: Uint32Array, center: Float32Array, cOff: number): number {
  let best = rows[0];
  let bestD = Infinity;
  for (let i = 0; i < rows.length; i++) {
    const d = l2Squared(data, rows[i] * dim, center, cOff, dim);
    if (d < bestD) {
      bestD = d;
      best = rows[i];
    }
  }
  return best;
}

function centroid(data: Float32Array, dim: number, rows: Uint32Array): Float32Array {
  const sum = new Float64Array(dim);
  for (let i = 0; i < rows.length; i++) {
    const off = rows[i] * dim;
    for (let j = 0; j < dim; j++) sum[j] += data[off + j];
  }
  const c = new Float32Array(dim);
  for (let j = 0; j < dim; j++) c[j] = sum[j] / rows.length;
  return c;
}

/** Split an integer budget over children in proportion to their sizes (largest remainder, >= 1 each). */
export function shareBudget(budget: number, sizes: ArrayLike<number>): number[] {
  const total = Array.from(sizes).reduce((a, b) => a + b, 0);
  const nonEmpty = Array.from(sizes).filter((s) => s > 0).length;
  const out = Array.from(sizes, () => 0);
  if (total === 0) return out;
  budget = Math.max(budget, nonEmpty);
  const exact = Array.from(sizes, (s) => (s > 0 ? Math.max(1, (budget * s) / total) : 0));
  let used = 0;
  for (let i = 0; i < exact.length; i++) {
    out[i] = Math.min(sizes[i], Math.floor(exact[i]));
    used += out[i];
  }
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0]);
  for (let r = 0; used < budget && r < order.length * 2; r++) {
    const i = order[r % order.length][1];
    if (out[i] < sizes[i]) {
      out[i]++;
      used++;
    }
  }
  return out;
}

/** Rows chosen as heads, sorted ascending. */
export function selectHeads(data: Float32Array, dim: number, n: number, options: HeadSelectionOptions): Uint32Array {
  const rng = createRng(options.seed);
  const heads: number[] = [];
  const all = rowRange(n);
  const stack: Array<{ rows: Uint32Array; budget: number }> = [{ rows: all, budget: Math.max(1, Math.min(n, options.headCount)) }];
  let done = 0;
  while (stack.length > 0) {
    const { rows, budget } = stack.pop()!;
    const m = rows.length;
    if (m === 0) continue;
    if (budget >= m) {
      for (const r of rows) heads.push(r);
    } else if (budget <= 1) {
      heads.push(nearestRow(data, dim, rows, centroid(data, dim, rows), 0));
    } else {
      const k = Math.min(options.branching, budget);
      const km = balancedKMeans(data, dim, rows, k, options, rng);
      const members: Uint32Array[] = [];
      const fill = new Uint32Array(km.k);
      for (let c = 0; c < km.k; c++) members.push(new Uint32Array(km.sizes[c]));
      for (let i = 0; i < m; i++) {
        const c = km.assignment[i];
        members[c][fill[c]++] = rows[i];
      }
      if (budget <= options.branching) {
        for (let c = 0; c < km.k; c++) {
          if (members[c].length > 0) heads.push(nearestRow(data, dim, members[c], km.centers, c * dim));
        }
      } else {
        const shares = shareBudget(budget, km.sizes);
        // A degenerate split (everything in one cluster) would loop forever: fall back to a flat cut.
        if (members.filter((x) => x.length > 0).length === 1) {
          const flat = sampleEvenly(rows, budget);
          for (const r of flat) heads.push(r);
        } else {
          for (let c = 0; c < km.k; c++) if (members[c].length > 0) stack.push({ rows: members[c], budget: shares[c] });
          continue;
        }
      }
    }
    done += m;
    options.onProgress?.(done);
  }
  return Uint32Array.from(heads).sort();
}

function sampleEvenly(rows: Uint32Array, count: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = rows[Math.floor((i * rows.length) / count)];
  return out;
}
