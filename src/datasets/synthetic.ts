/**
 * Seeded Gaussian-mixture vectors: `clusters` centres drawn uniformly in [-1, 1]^dim, each vector a
 * centre plus N(0, spread^2) noise per component. Written in chunks, so millions of vectors can be
 * made on any machine without holding them twice.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRng } from '../util/random.js';

export interface SyntheticOptions {
  n: number;
  dim: number;
  /** Mixture components. Default 1000. */
  clusters: number;
  /** Noise standard deviation relative to the centre box [-1, 1]. Default 0.15. */
  spread: number;
  seed: number;
}

export const DEFAULT_SYNTHETIC: Omit<SyntheticOptions, 'n' | 'dim'> = { clusters: 1000, spread: 0.15, seed: 7 };

/** Centres of the mixture for a seed (shared by base and query generation). */
export function mixtureCenters(dim: number, clusters: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const c = new Float32Array(clusters * dim);
  for (let i = 0; i < c.length; i++) c[i] = rng.next() * 2 - 1;
  return c;
}

/** Write `n` mixture samples to an .fbin file; `streamSeed` separates base from query draws. */
export function writeMixtureFbin(path: string, o: SyntheticOptions, n: number, streamSeed: number, onProgress?: (done: number) => void): void {
  const centers = mixtureCenters(o.dim, o.clusters, o.seed);
  const rng = createRng(o.seed * 1_000_003 + streamSeed);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, new Uint8Array(new Uint32Array([n, o.dim]).buffer));
    const chunk = 16384;
    const buf = new Float32Array(chunk * o.dim);
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      for (let r = 0; r < m; r++) {
        const c = rng.int(o.clusters) * o.dim;
        for (let j = 0; j < o.dim; j++) buf[r * o.dim + j] = centers[c + j] + o.spread * rng.gaussian();
      }
      writeSync(fd, new Uint8Array(buf.buffer, 0, m * o.dim * 4));
      onProgress?.(s + m);
    }
  } finally {
    closeSync(fd);
  }
}
