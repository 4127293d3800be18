/** Seeded test data shared by the suites. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../src/util/random.js';
import { mixtureCenters } from '../src/datasets/synthetic.js';

/** n vectors from a Gaussian mixture (seeded). */
export function mixture(n: number, dim: number, seed: number, clusters = 40, spread = 0.25): Float32Array {
  const centers = mixtureCenters(dim, clusters, 1234);
  const rng = createRng(seed);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = rng.int(clusters) * dim;
    for (let j = 0; j < dim; j++) out[i * dim + j] = centers[c + j] + spread * rng.gaussian();
  }
  return out;
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `strata-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** recall of `got` (k per query) against `truth` (k per query). */
export function recall(got: Uint32Array, truth: Uint32Array, k: number, queries: number): number {
  let hits = 0;
  for (let q = 0; q < queries; q++) {
    const want = new Set(truth.subarray(q * k, q * k + k));
    for (let j = 0; j < k; j++) if (want.has(got[q * k + j])) hits++;
  }
  return hits / (queries * k);
}

/**
 * n vectors of low intrinsic rank: `rank` latent Gaussian factors with decaying scales mixed into
 * `dim` components, plus small isotropic noise — a decaying spectrum like real embeddings (seeded).
 */
export function lowRank(n: number, dim: number, rank: number, seed: number): Float32Array {
  const mixRng = createRng(999);
  const mix = Float32Array.from({ length: dim * rank }, () => mixRng.gaussian());
  const rng = createRng(seed);
  const out = new Float32Array(n * dim);
  const z = new Float32Array(rank);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < rank; k++) z[k] = rng.gaussian() * (rank - k);
    for (let j = 0; j < dim; j++) {
      let v = 0.05 * rng.gaussian();
      for (let k = 0; k < rank; k++) v += mix[j * rank + k] * z[k];
      out[i * dim + j] = v;
    }
  }
  return out;
}
