/**
 * Coarse cells: about √n centroids trained by k-means on the head vectors, each head assigned to its
 * nearest one, each vector to the cell of its nearest head. Within a tenant, vectors are laid out by
 * cell, so a mid-sized tenant is searched like a small IVF index of its own (nearest cells first) —
 * the Curator idea of per-tenant partitions carved out of one shared clustering, at the cost of the
 * centroids (√n × dim floats) and one (cell, start) pair per occupied cell per tenant.
 */
import { balancedKMeans } from './kmeans.js';
import { createRng } from '../util/random.js';

export interface CoarseCells {
  count: number;
  /** count × dim, row-major. */
  centers: Float32Array;
  /** Cell of each head. */
  cellOfHead: Uint32Array;
}

/** Cells for n vectors: ⌈√n⌉ capped by the head count and MAX_CELLS. */
export const MAX_CELLS = 4096;

export function cellCount(n: number, heads: number): number {
  return Math.max(1, Math.min(heads, MAX_CELLS, Math.ceil(Math.sqrt(n))));
}

/**
 * Cells only group vectors for the tenant plans: squared L2 on the heads (unit vectors for cosine)
 * ranks cells as l2 and cosine do; for ip the searcher ranks them by the metric itself.
 */
export function trainCells(headVectors: Float32Array, heads: number, dim: number, count: number, seed: number): CoarseCells {
  const rows = Uint32Array.from({ length: heads }, (_, i) => i);
  const km = balancedKMeans(headVectors, dim, rows, count, { iterations: 6, samplePerCluster: 32, maxImbalance: 0 }, createRng(seed ^ 0x5eed));
  return { count: km.k, centers: km.centers, cellOfHead: km.assignment };
}
