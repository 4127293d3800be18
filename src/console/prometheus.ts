/** The Prometheus text format, parsed into samples; quantiles from a histogram's cumulative buckets. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels match `where`. */
export function total(samples: Sample[], name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
  let s = 0;
  for (const x of samples) if (x.name === name && where(x.labels)) s += x.value;
  return s;
}

/** Cumulative bucket counts by upper bound (summed over matching series). */
export function buckets(samples: Sample[], name: string, where: (labels: Record<string, string>) => boolean = () => true): Map<number, number> {
  const b = new Map<number, number>();
  for (const x of samples) {
    if (x.name !== `${name}_bucket` || !where(x.labels)) continue;
    const le = x.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(x.labels.le);
    b.set(le, (b.get(le) ?? 0) + x.value);
  }
  return b;
}

/** The q-quantile of the observations between two bucket snapshots (linear within a bucket, as Prometheus does). */
export function quantile(q: number, now: Map<number, number>, before: Map<number, number>): number | undefined {
  const bounds = [...now.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (now.get(le) ?? 0) - (before.get(le) ?? 0));
  const n = counts[counts.length - 1] ?? 0;
  if (n <= 0) return undefined;
  const rank = q * n;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      const lo = i === 0 ? 0 : bounds[i - 1];
      const hi = bounds[i];
      if (!Number.isFinite(hi)) return lo;
      const below = i === 0 ? 0 : counts[i - 1];
      const inBucket = counts[i] - below;
      return lo + (hi - lo) * (inBucket > 0 ? (rank - below) / inBucket : 1);
    }
  }
  return undefined;
}
