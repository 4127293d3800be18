/**
 * Splitting one over-long posting list in two (SPFresh's split): a local, balanced 2-means over the
 * list's vectors gives two centres, which become the two heads that replace the list's head. The
 * writer (writer.ts) then re-checks the vectors near the split boundary (LIRE).
 */
import { kernelFor } from './distance.js';

export interface TwoMeans {
  /** The two centres, 2 × dim. */
  centers: Float32Array;
  /** side[i] ∈ {0, 1}: the centre row i goes to. */
  side: Uint8Array;
}

/**
 * Balanced 2-means of the n rows of `x` (n × dim, squared L2). Seeds are deterministic: the row
 * farthest from the mean, then the row farthest from it. No side gets more than `cap` rows: when
 * Lloyd's partition is lopsided, the rows are cut where d(x, c0) - d(x, c1) splits them in
 * capacity-respecting halves (the same boundary direction, moved).
 */
export function twoMeans(x: Float32Array, n: number, dim: number, cap: number, iterations = 8): TwoMeans {
  const l2 = kernelFor('l2');
  const centers = new Float32Array(2 * dim);
  const side = new Uint8Array(n);
  if (n === 0) return { centers, side };
  const mean = new Float32Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j] / n;
  const farthest = (from: Float32Array, off: number): number => {
    let best = 0, bestD = -1;
    for (let i = 0; i < n; i++) {
      const d = l2(from, off, x, i * dim, dim);
      if (d > bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  };
  const a = farthest(mean, 0);
  const b = farthest(x, a * dim);
  centers.set(x.subarray(a * dim, a * dim + dim), 0);
  centers.set(x.subarray(b * dim, b * dim + dim), dim);
  const margin = new Float64Array(n);
  const counts = [0, 0];
  for (let it = 0; it < iterations; it++) {
    counts[0] = counts[1] = 0;
    let moved = false;
    for (let i = 0; i < n; i++) {
      margin[i] = l2(x, i * dim, centers, 0, dim) - l2(x, i * dim, centers, dim, dim);
      const s = margin[i] <= 0 ? 0 : 1;
      if (s !== side[i]) moved = true;
      side[i] = s;
      counts[s]++;
    }
    if (counts[0] > cap || counts[1] > cap) balance(margin, side, n, cap);
    recompute(x, n, dim, side, centers);
    if (!moved && it > 0) break;
  }
  return { centers, side };
}

/**
 * Each of the n rows of `x` to its nearer centre. Only a degenerate split (one side empty: the rows
 * cannot be told apart) is cut by margin into sides of at most `cap`; a lopsided split is kept, and
 * a side still over the cap is split again by the caller — a forced cut would put rows on the side
 * of the farther centre.
 */
export function sidesOf(x: Float32Array, n: number, dim: number, centers: Float32Array, cap: number): Uint8Array {
  const l2 = kernelFor('l2');
  const side = new Uint8Array(n);
  const margin = new Float64Array(n);
  let ones = 0;
  for (let i = 0; i < n; i++) {
    margin[i] = l2(x, i * dim, centers, 0, dim) - l2(x, i * dim, centers, dim, dim);
    side[i] = margin[i] <= 0 ? 0 : 1;
    ones += side[i];
  }
  if (ones === 0 || ones === n) balance(margin, side, n, cap);
  return side;
}

/** Put the rows with the smallest margins on side 0, the rest on side 1, neither over `cap`. */
function balance(margin: Float64Array, side: Uint8Array, n: number, cap: number): void {
  const order = Array.from({ length: n }, (_, i) => i).sort((p, q) => margin[p] - margin[q] || p - q);
  const first = Math.min(cap, Math.max(n - cap, Math.round(n / 2)));
  for (let r = 0; r < n; r++) side[order[r]] = r < first ? 0 : 1;
}

function recompute(x: Float32Array, n: number, dim: number, side: Uint8Array, centers: Float32Array): void {
  const counts = [0, 0];
  centers.fill(0);
  for (let i = 0; i < n; i++) {
    const o = side[i] * dim;
    counts[side[i]]++;
    for (let j = 0; j < dim; j++) centers[o + j] += x[i * dim + j];
  }
  for (let s = 0; s < 2; s++) for (let j = 0; j < dim; j++) centers[s * dim + j] /= Math.max(1, counts[s]);
}
