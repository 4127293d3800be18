/**
 * Seeded anisotropic Gaussian mixture — hard data for a partition index. Both the cluster centres and
 * the noise around them are shaped by a slowly decaying spectrum (standard deviation of latent
 * dimension i ∝ 1/sqrt(1 + i)) and turned by one random rotation, so no coordinate axis is special;
 * cluster sizes follow Zipf's law; queries are drawn like base points, with noise comparable to the
 * distance between neighbouring centres, so a query's neighbours spread over many partitions (as in
 * many real embedding sets).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRng, type Rng } from '../util/random.js';

export interface AnisoOptions {
  n: number;
  dim: number;
  /** Mixture components. Default 512. */
  clusters: number;
  /** Noise scale relative to the spread of the centres (both shaped by the same spectrum). Default 2: a point sits farther from its own centre than centres sit from each other. */
  spread: number;
  /** Zipf exponent of the cluster sizes. Default 1. */
  zipf: number;
  seed: number;
}

export const DEFAULT_ANISO: Omit<AnisoOptions, 'n' | 'dim'> = { clusters: 512, spread: 2, zipf: 1, seed: 11 };

/** A seeded random rotation (dim × dim, row-major): Gram-Schmidt on a Gaussian matrix. */
function randomRotation(dim: number, rng: Rng): Float64Array {
  const m = new Float64Array(dim * dim);
  for (let i = 0; i < m.length; i++) m[i] = rng.gaussian();
  for (let r = 0; r < dim; r++) {
    const row = r * dim;
    for (let p = 0; p < r; p++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += m[row + j] * m[p * dim + j];
      for (let j = 0; j < dim; j++) m[row + j] -= dot * m[p * dim + j];
    }
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += m[row + j] * m[row + j];
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) m[row + j] /= norm;
  }
  return m;
}

/** The mixture a seed defines: rotation, spectrum, latent centres and the cumulative Zipf weights. */
function mixture(o: AnisoOptions) {
  const rng = createRng(o.seed);
  const rotation = randomRotation(o.dim, rng);
  const scale = new Float64Array(o.dim);
  for (let i = 0; i < o.dim; i++) scale[i] = 1 / Math.sqrt(1 + i);
  const centres = new Float64Array(o.clusters * o.dim);
  for (let c = 0; c < o.clusters; c++) for (let i = 0; i < o.dim; i++) centres[c * o.dim + i] = scale[i] * rng.gaussian();
  const cumulative = new Float64Array(o.clusters);
  let total = 0;
  for (let c = 0; c < o.clusters; c++) cumulative[c] = total += 1 / (c + 1) ** o.zipf;
  for (let c = 0; c < o.clusters; c++) cumulative[c] /= total;
  return { rotation, scale, centres, cumulative };
}

/** Write `n` samples to an .fbin file; `streamSeed` separates base from query draws. */
export function writeAnisoFbin(path: string, o: AnisoOptions, n: number, streamSeed: number, onProgress?: (done: number) => void): void {
  const { rotation, scale, centres, cumulative } = mixture(o);
  const rng = createRng(o.seed * 1_000_003 + streamSeed);
  const dim = o.dim;
  const latent = new Float64Array(dim);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, new Uint8Array(new Uint32Array([n, dim]).buffer));
    const chunk = 16384;
    const buf = new Float32Array(chunk * dim);
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      for (let r = 0; r < m; r++) {
        const c = pick(cumulative, rng.next()) * dim;
        for (let i = 0; i < dim; i++) latent[i] = centres[c + i] + o.spread * scale[i] * rng.gaussian();
        for (let j = 0; j < dim; j++) {
          let v = 0;
          const row = j * dim;
          for (let i = 0; i < dim; i++) v += rotation[row + i] * latent[i];
          buf[r * dim + j] = v;
        }
      }
      writeSync(fd, new Uint8Array(buf.buffer, 0, m * dim * 4));
      onProgress?.(s + m);
    }
  } finally {
    closeSync(fd);
  }
}

/** The first index whose cumulative weight reaches u (binary search). */
function pick(cumulative: Float64Array, u: number): number {
  let lo = 0, hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
