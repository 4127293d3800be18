/**
 * Fusing the dense and BM25 rankings of one query. Two methods:
 *
 *  - `rrf` (default), reciprocal rank fusion (Cormack et al. 2009): an item's fused score is the sum
 *    over rankings of weight / (rrfK + rank), rank counted from 1. Uses ranks only, so the scores of
 *    different retrievers (cosine, BM25) never have to be comparable.
 *  - `convex`, a convex combination of min-max normalised scores (Bruch et al. 2023, "An Analysis of
 *    Fusion Functions for Hybrid Retrieval"): sum of weight x (score - min) / (max - min) per ranking,
 *    0 for an item a ranking does not hold. Keeps how far apart the scores are, which matters when
 *    one retriever is much weaker than the other (a bag-of-words encoder next to BM25).
 */
export type FusionMethod = 'rrf' | 'convex';

export interface FusionWeights {
  /** Weight of the dense (vector) ranking. Default 1. */
  dense: number;
  /** Weight of the BM25 ranking. Default 1. */
  bm25: number;
}

export const DEFAULT_FUSION: FusionWeights = { dense: 1, bm25: 1 };
export const DEFAULT_FUSION_METHOD: FusionMethod = 'rrf';
/** RRF's rank offset: larger flattens the difference between top ranks. Default 60 (the paper's). */
export const DEFAULT_RRF_K = 60;

export interface Ranking {
  /** Item ids, best first. */
  ids: ArrayLike<number>;
  /** Scores aligned with ids (higher is better); needed by `convex`. */
  scores?: ArrayLike<number>;
  weight: number;
}

function top(fused: Map<number, number>, k: number): { ids: number[]; scores: number[] } {
  const best = [...fused].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
  return { ids: best.map((e) => e[0]), scores: best.map((e) => e[1]) };
}

/** Fuse rankings (ids best first) with per-ranking weights; returns the top `k` ids and fused scores. */
export function reciprocalRankFusion(rankings: readonly Ranking[], k: number, rrfK = DEFAULT_RRF_K): { ids: number[]; scores: number[] } {
  const fused = new Map<number, number>();
  for (const { ids, weight } of rankings) {
    if (weight === 0) continue;
    for (let r = 0; r < ids.length; r++) fused.set(ids[r], (fused.get(ids[r]) ?? 0) + weight / (rrfK + r + 1));
  }
  return top(fused, k);
}

/** Convex combination of min-max normalised scores; every item of every ranking is a candidate. */
export function convexFusion(rankings: readonly Ranking[], k: number): { ids: number[]; scores: number[] } {
  const fused = new Map<number, number>();
  for (const { ids, scores, weight } of rankings) {
    for (let r = 0; r < ids.length; r++) if (!fused.has(ids[r])) fused.set(ids[r], 0);
    if (weight === 0 || ids.length === 0) continue;
    if (!scores || scores.length !== ids.length) throw new Error('convexFusion: every ranking needs one score per id');
    let lo = Infinity;
    let hi = -Infinity;
    for (let r = 0; r < scores.length; r++) {
      lo = Math.min(lo, scores[r]);
      hi = Math.max(hi, scores[r]);
    }
    const span = hi - lo || 1;
    for (let r = 0; r < ids.length; r++) fused.set(ids[r], (fused.get(ids[r]) as number) + (weight * (scores[r] - lo)) / span);
  }
  return top(fused, k);
}

/** A ranking with scores, best first. */
export interface Ranked {
  ids: number[];
  scores: number[];
}

/** Each retriever's candidates for one query (Corpus.candidates). */
export interface QueryCandidates {
  mode: 'dense' | 'bm25' | 'hybrid';
  dense: Ranked | null;
  bm25: Ranked | null;
  /** Dense scores of BM25 candidates the dense ranking lacks (present when asked for convex fusion). */
  denseExtra?: Ranked;
}

export interface FuseOptions {
  fusion?: FusionMethod;
  weights?: Partial<FusionWeights>;
  rrfK?: number;
}

/** The final top-`k` of one query: one retriever's ranking, or both fused. */
export function fuseCandidates(c: QueryCandidates, options: FuseOptions, k: number): Ranked {
  const cut = (r: Ranked) => ({ ids: r.ids.slice(0, k), scores: r.scores.slice(0, k) });
  if (c.mode === 'dense') return cut(c.dense as Ranked);
  if (c.mode === 'bm25') return cut(c.bm25 as Ranked);
  const weights = { ...DEFAULT_FUSION, ...options.weights };
  const dense = c.dense as Ranked;
  const bm25 = c.bm25 as Ranked;
  if ((options.fusion ?? DEFAULT_FUSION_METHOD) === 'rrf') {
    return reciprocalRankFusion(
      [
        { ids: dense.ids, weight: weights.dense },
        { ids: bm25.ids, weight: weights.bm25 },
      ],
      k,
      options.rrfK ?? DEFAULT_RRF_K,
    );
  }
  if (!c.denseExtra) throw new Error('fuseCandidates: convex fusion needs candidates gathered with fusion "convex"');
  return convexFusion(
    [
      { ids: [...dense.ids, ...c.denseExtra.ids], scores: [...dense.scores, ...c.denseExtra.scores], weight: weights.dense },
      { ...bm25, weight: weights.bm25 },
    ],
    k,
  );
}
