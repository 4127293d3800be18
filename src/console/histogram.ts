/** Quantiles of a Prometheus-style histogram: observations counted per bucket, read as Prometheus does. */

/**
 * The q-quantile of observations whose cumulative counts at `bounds` (upper bounds, +Inf last) are
 * `cumulative`: linear within the bucket the rank falls in; undefined when nothing was observed.
 */
export function quantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number | undefined {
  const n = cumulative[cumulative.length - 1] ?? 0;
  if (n <= 0) return undefined;
  const rank = q * n;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i] >= rank) {
      const lo = i === 0 ? 0 : bounds[i - 1];
      const hi = bounds[i];
      if (!Number.isFinite(hi)) return lo;
      const below = i === 0 ? 0 : cumulative[i - 1];
      const inBucket = cumulative[i] - below;
      return lo + (hi - lo) * (inBucket > 0 ? (rank - below) / inBucket : 1);
    }
  }
  return undefined;
}
