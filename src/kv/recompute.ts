/**
 * Which tokens of a reused chunk to recompute (their K/V taken fresh, in the assembled context):
 *
 *  - `none`          naive reuse
 *  - `first-k`       the first ceil(fraction x length) tokens of every reused chunk (EPIC: the tokens
 *                    that act as attention sinks of a chunk computed alone)
 *  - `kv-deviation`  CacheBlend: layer 1's K/V of the chunk's tokens computed fresh in context (on a
 *                    copy of the graph pruned to layers 0-1) against the re-rotated cached ones; the
 *                    top fraction by deviation are recomputed through every layer. Approximation:
 *                    the check runs per chunk (not over the whole prompt at once), tokens are chosen
 *                    singly or in blocks (AssembleOptions.selectionBlock consecutive tokens by
 *                    summed deviation; default 1), and the chosen tokens are recomputed in runs of consecutive
 *                    tokens (each run is one ONNX call attending to everything before it), not
 *                    layer by layer.
 *  - `cache-craft`   a per-chunk budget from the statistics stored with the chunk: the fraction of all
 *                    reused tokens is split across chunks in proportion to length x mean deviation,
 *                    and each chunk recomputes the tokens (or blocks) with the largest stored deviation. The
 *                    deviation stored is that of K/V computed alone vs in the context the chunk was
 *                    first seen in (layer 1), a proxy for attention mass outside the chunk, which the
 *                    ONNX graph does not expose. No probe call at reuse time.
 *  - `full`          the whole chunk (100%: the result equals a full prefill)
 */
export type RecomputeStrategy = 'none' | 'first-k' | 'kv-deviation' | 'cache-craft' | 'full';
export const RECOMPUTE_STRATEGIES: readonly RecomputeStrategy[] = ['none', 'first-k', 'kv-deviation', 'cache-craft', 'full'];

/** What `assemble` does when the caller names no strategy or fraction (the CLI and HTTP defaults too). */
export const DEFAULT_RECOMPUTE: { strategy: RecomputeStrategy; fraction: number } = { strategy: 'cache-craft', fraction: 0.15 };

/**
 * Token offsets (within a chunk) of the `count` largest scores, ascending. With `block` > 1 whole
 * blocks of consecutive tokens are chosen by their summed score until `count` tokens are covered
 * (the last block may overshoot by less than a block).
 */
export function topTokens(scores: ArrayLike<number>, count: number, block = 1): number[] {
  const n = scores.length;
  const want = Math.max(0, Math.min(count, n));
  const blocks = Math.ceil(n / block);
  const sums = Array.from({ length: blocks }, (_, b) => {
    let s = 0;
    for (let i = b * block; i < Math.min(n, (b + 1) * block); i++) s += scores[i];
    return s;
  });
  const order = Array.from({ length: blocks }, (_, b) => b).sort((a, b) => sums[b] - sums[a] || a - b);
  const out: number[] = [];
  for (const b of order) {
    if (out.length >= want) break;
    for (let i = b * block; i < Math.min(n, (b + 1) * block); i++) out.push(i);
  }
  return (block === 1 ? out.slice(0, want) : out).sort((a, b) => a - b);
}

/** Consecutive runs [start, end) covering `offsets` (sorted), merging gaps of at most `gap` tokens. */
export function toRuns(offsets: readonly number[], gap = 0): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const o of offsets) {
    const last = runs[runs.length - 1];
    if (last && o - last[1] <= gap) last[1] = o + 1;
    else runs.push([o, o + 1]);
  }
  return runs;
}

/** Cache-Craft budgets: tokens to recompute per reused chunk, summing to ~fraction x all reused tokens. */
export function cacheCraftBudgets(chunks: ReadonlyArray<{ length: number; meanDeviation: number }>, fraction: number): number[] {
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const weights = chunks.map((c) => c.length * Math.max(c.meanDeviation, 1e-12));
  const sum = weights.reduce((s, w) => s + w, 0);
  const budget = Math.round(fraction * total);
  return weights.map((w, i) => Math.min(chunks[i].length, Math.round((budget * w) / sum)));
}

/** Per-token squared distance between two layer caches of the same tokens ([heads, n, d] each). */
export function tokenDeviation(ka: Float32Array, va: Float32Array, kb: Float32Array, vb: Float32Array, heads: number, n: number, d: number): Float32Array {
  const out = new Float32Array(n);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < n; t++) {
      const o = (h * n + t) * d;
      let s = 0;
      for (let j = 0; j < d; j++) {
        const dk = ka[o + j] - kb[o + j];
        const dv = va[o + j] - vb[o + j];
        s += dk * dk + dv * dv;
      }
      out[t] += s;
    }
  }
  return out;
}
