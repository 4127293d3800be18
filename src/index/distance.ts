/**
 * Distance kernels on flat Float32Arrays. Every kernel takes (a, aOffset, b, bOffset, dim) so that
 * callers scan packed n×d buffers without creating per-vector views.
 *
 * Conventions (the same as hnswlib, so head-graph distances and posting-scan distances compare):
 *  - l2:     squared Euclidean distance
 *  - ip:     1 - <a, b>
 *  - cosine: vectors are L2-normalised on the way in, then 1 - <a, b>
 */
import { createError } from '../errors.js';
import type { Metric } from '../storage/records.js';
export type { Metric } from '../storage/records.js';

export const METRICS: readonly Metric[] = ['l2', 'ip', 'cosine'];

export type DistanceKernel = (
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  bOff: number,
  dim: number,
) => number;

export function l2Squared(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    const d0 = a[aOff + i] - b[bOff + i];
    const d1 = a[aOff + i + 1] - b[bOff + i + 1];
    const d2 = a[aOff + i + 2] - b[bOff + i + 2];
    const d3 = a[aOff + i + 3] - b[bOff + i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; i++) {
    const d = a[aOff + i] - b[bOff + i];
    s0 += d * d;
  }
  return s0 + s1 + s2 + s3;
}

export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    s0 += a[aOff + i] * b[bOff + i];
    s1 += a[aOff + i + 1] * b[bOff + i + 1];
    s2 += a[aOff + i + 2] * b[bOff + i + 2];
    s3 += a[aOff + i + 3] * b[bOff + i + 3];
  }
  for (; i < dim; i++) s0 += a[aOff + i] * b[bOff + i];
  return s0 + s1 + s2 + s3;
}

export function ipDistance(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  return 1 - dot(a, aOff, b, bOff, dim);
}

export function parseMetric(value: unknown, field = 'metric'): Metric {
  if (typeof value === 'string' && (METRICS as readonly string[]).includes(value)) return value as Metric;
  throw createError('STRATA_UNKNOWN_METRIC', `${field} must be one of ${METRICS.join(', ')}, got ${JSON.stringify(value)}`, field);
}

/** The kernel used to compare (already normalised, for cosine) vectors under a metric. */
export function kernelFor(metric: Metric): DistanceKernel {
  return metric === 'l2' ? l2Squared : ipDistance;
}

/** Normalise each row of an n×d buffer in place (cosine). Zero rows stay zero. */
export function normalizeRows(data: Float32Array, dim: number): void {
  const n = data.length / dim;
  for (let r = 0; r < n; r++) {
    const off = r * dim;
    const norm = Math.sqrt(dot(data, off, data, off, dim));
    if (norm > 0) {
      const inv = 1 / norm;
      for (let i = 0; i < dim; i++) data[off + i] *= inv;
    }
  }
}

/**
 * Query-aware pruning and the closure bound share one test: is candidate distance `d` within
 * (1 + eps) of the best distance `best`? For l2 the distances are squared, so the bound is applied to
 * the Euclidean distance; for ip/cosine (which may be negative for ip) it is applied to the gap.
 */
export function withinBound(metric: Metric, d: number, best: number, eps: number): boolean {
  if (metric === 'l2') {
    const f = 1 + eps;
    return d <= best * f * f;
  }
  return d - best <= eps * Math.abs(best) + 1e-12;
}
