/**
 * Stage 3a: multi-assignment ("closure") of vectors to heads, SPANN's rule.
 * A vector goes to its nearest head, then to further heads c (nearest first, at most `replicas`) when
 *   - closure bound: d(x, c) <= (1 + eps) d(x, nearest head), and
 *   - RNG rule: no already chosen head c' with rngFactor * d(c, c') < d(x, c)
 * so replicas spread over different directions instead of piling into neighbouring lists.
 */
import { type Metric, kernelFor, withinBound } from './distance.js';
import type { HeadGraph } from './head-graph.js';
import { NO_ID } from './topk.js';

/** Where head vectors are read: head h's vector is data[offset(h) .. offset(h) + dim). */
export interface HeadVectors {
  data: Float32Array;
  offset(h: number): number;
}

/** Head vectors held in one array, head h at h × dim. */
export function denseHeads(data: Float32Array, dim: number): HeadVectors {
  return { data, offset: (h) => h * dim };
}

export interface AssignParams {
  metric: Metric;
  replicas: number;
  candidateHeads: number;
  closureEps: number;
  rngFactor: number;
}

/**
 * Apply closure bound and RNG rule to candidates sorted ascending. Writes up to `replicas` heads and
 * distances at `outOff`, padding with NO_ID. Returns the number chosen (>= 1 when count >= 1).
 */
export function chooseReplicas(
  candHeads: Uint32Array,
  candDist: Float32Array,
  count: number,
  heads: HeadVectors,
  dim: number,
  params: AssignParams,
  outHeads: Uint32Array,
  outDist: Float32Array,
  outOff: number,
): number {
  const kernel = kernelFor(params.metric);
  let chosen = 0;
  for (let i = 0; i < count && chosen < params.replicas; i++) {
    const c = candHeads[i];
    const dxc = candDist[i];
    if (chosen > 0) {
      if (!withinBound(params.metric, dxc, outDist[outOff], params.closureEps)) break;
      let blocked = false;
      for (let j = 0; j < chosen; j++) {
        const dcc = kernel(heads.data, heads.offset(c), heads.data, heads.offset(outHeads[outOff + j]), dim);
        if (params.rngFactor * dcc < dxc) {
          blocked = true;
          break;
        }
      }
      if (blocked) continue;
    }
    outHeads[outOff + chosen] = c;
    outDist[outOff + chosen] = dxc;
    chosen++;
  }
  for (let j = chosen; j < params.replicas; j++) {
    outHeads[outOff + j] = NO_ID;
    outDist[outOff + j] = Infinity;
  }
  return chosen;
}

/** Assign rows [start, end) of `data`; row r's replicas land at (r - start) * replicas in the outputs. */
export function assignRange(
  data: Float32Array,
  dim: number,
  start: number,
  end: number,
  graph: HeadGraph,
  headVectors: Float32Array,
  params: AssignParams,
  outHeads: Uint32Array,
  outDist: Float32Array,
  onRow?: () => void,
): void {
  const candHeads = new Uint32Array(params.candidateHeads);
  const candDist = new Float32Array(params.candidateHeads);
  const heads = denseHeads(headVectors, dim);
  for (let r = start; r < end; r++) {
    const found = graph.search(data, r * dim, params.candidateHeads, params.candidateHeads, candHeads, candDist);
    chooseReplicas(candHeads, candDist, found, heads, dim, params, outHeads, outDist, (r - start) * params.replicas);
    onRow?.();
  }
}
