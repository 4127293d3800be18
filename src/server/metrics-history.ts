/**
 * The last minutes of the service's own metrics, kept in memory for the web console: every
 * HISTORY_EVERY_MS a sample of its Prometheus registry — the request-latency histogram's cumulative
 * bucket counts summed over every route but the console's own and /metrics, the queries and shed
 * totals, and the queue gauges. Rates and quantiles are differences between two samples (the console
 * computes them), so a console opened now still sees the minutes before it.
 */
import type { Registry } from 'prom-client';

export const HISTORY_EVERY_MS = 5000;
/** Ten minutes of samples. */
const HISTORY_KEEP = 121;
/** Routes left out of the request counts: the console's page, its polling, scrapes. */
const NOT_COUNTED = new Set(['/metrics', '/v1/console/metrics', '/console', '/console/', '/console/:file']);

export interface MetricsSample {
  /** Unix ms. */
  t: number;
  requests: number;
  queries: number;
  shed: number;
  pendingQueries: number;
  pendingWrites: number;
  /** Cumulative request counts at each of `bounds` (seconds; the last is +Inf). */
  buckets: number[];
}

type Values = Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;

export class MetricsHistory {
  readonly samples: MetricsSample[] = [];
  /** The histogram's bucket bounds, seconds, +Inf last. */
  readonly bounds: number[];
  private timer: NodeJS.Timeout | null = null;

  /** `bounds`: the request-latency histogram's bucket bounds (without +Inf). */
  constructor(
    private readonly registry: Registry,
    bounds: readonly number[],
  ) {
    this.bounds = [...bounds, Number.POSITIVE_INFINITY];
  }

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), HISTORY_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Take one sample now (the timer calls this; tests may too). */
  async sample(): Promise<void> {
    const values = async (name: string): Promise<Values> => ((await this.registry.getSingleMetric(name)?.get()) as { values: Values } | undefined)?.values ?? [];
    const sum = (v: Values, keep: (x: Values[number]) => boolean = () => true) => v.reduce((s, x) => (keep(x) ? s + x.value : s), 0);
    const counted = (x: Values[number]) => !NOT_COUNTED.has(String(x.labels.route));
    const latency = await values('strata_http_request_duration_seconds');
    const byBound = new Map<number, number>();
    for (const x of latency) {
      if (!x.metricName?.endsWith('_bucket') || !counted(x)) continue;
      const le = x.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(x.labels.le);
      byBound.set(le, (byBound.get(le) ?? 0) + x.value);
    }
    this.samples.push({
      t: Date.now(),
      requests: sum(latency, (x) => !!x.metricName?.endsWith('_count') && counted(x)),
      queries: sum(await values('strata_search_queries_total')),
      shed: sum(await values('strata_shed_total')),
      pendingQueries: sum(await values('strata_search_pending_queries')),
      pendingWrites: sum(await values('strata_write_pending_requests')),
      buckets: this.bounds.map((b) => byBound.get(b) ?? 0),
    });
    if (this.samples.length > HISTORY_KEEP) this.samples.shift();
  }
}
