/**
 * Metrics at a glance (admin key): the service keeps the last ten minutes of its own Prometheus
 * metrics, sampled every 5 s (GET /v1/console/metrics); this page turns consecutive samples into
 * requests and search queries per second, p50/p99 request latency between them, queries and
 * writes in flight, shed requests — and refreshes while it is open.
 */
import { api } from './api.js';
import { errorBox, fmt, h, show } from './dom.js';
import { plot } from './plot.js';
import { quantile } from './histogram.js';

interface Sample {
  t: number;
  requests: number;
  queries: number;
  shed: number;
  pendingQueries: number;
  pendingWrites: number;
  buckets: number[];
}
interface History {
  everyMs: number;
  /** Seconds; null = +Inf. */
  bounds: Array<number | null>;
  samples: Sample[];
}
interface Point {
  t: number;
  rps: number;
  qps: number;
  p50?: number;
  p99?: number;
  pendingQueries: number;
  pendingWrites: number;
  shed: number;
}

/** Rates and latency quantiles between consecutive samples. */
function points(h: History): Point[] {
  const bounds = h.bounds.map((b) => b ?? Number.POSITIVE_INFINITY);
  const out: Point[] = [];
  for (let i = 1; i < h.samples.length; i++) {
    const a = h.samples[i - 1];
    const b = h.samples[i];
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    const counts = b.buckets.map((n, j) => n - (a.buckets[j] ?? 0));
    out.push({
      t: b.t,
      rps: (b.requests - a.requests) / dt,
      qps: (b.queries - a.queries) / dt,
      p50: quantile(0.5, bounds, counts),
      p99: quantile(0.99, bounds, counts),
      pendingQueries: b.pendingQueries,
      pendingWrites: b.pendingWrites,
      shed: b.shed,
    });
  }
  return out;
}

export async function metricsPage(main: HTMLElement): Promise<void> {
  const body = h('div', { id: 'metrics' });
  const note = h('p', { class: 'muted' }, 'the service samples its own Prometheus metrics every 5 s and keeps ten minutes');
  show(main, h('h1', {}, 'Metrics'), note, body);
  const render = async () => {
    let history: History;
    try {
      history = await api<History>('/v1/console/metrics');
    } catch (err) {
      show(body, errorBox(err));
      return;
    }
    const series = points(history);
    const now = series[series.length - 1];
    const minutes = (p: Point) => (p.t - Date.now()) / 60000;
    show(
      body,
      now
        ? h(
            'div',
            { class: 'cards' },
            card('requests/s', fmt.num(now.rps, 1), 'rps'),
            card('search queries/s', fmt.num(now.qps, 1), 'qps'),
            card('p50 latency', now.p50 === undefined ? '-' : `${fmt.num(now.p50 * 1000, 2)} ms`, 'p50'),
            card('p99 latency', now.p99 === undefined ? '-' : `${fmt.num(now.p99 * 1000, 2)} ms`, 'p99'),
            card('queries in flight', fmt.int(now.pendingQueries), 'pending-queries'),
            card('writes in flight', fmt.int(now.pendingWrites), 'pending-writes'),
            card('shed (total)', fmt.int(now.shed), 'shed'),
          )
        : h('p', { class: 'empty' }, 'waiting for two samples…'),
      plot(
        [
          { name: 'requests/s', points: series.map((p) => ({ x: minutes(p), y: p.rps })) },
          { name: 'queries/s', points: series.map((p) => ({ x: minutes(p), y: p.qps })) },
        ],
        { title: 'Throughput', x: { label: 'minutes (0 = now)', min: -10, max: 0 }, y: { label: 'per second', min: 0 }, height: 240 },
      ),
      plot(
        [
          { name: 'p50', points: series.flatMap((p) => (p.p50 === undefined ? [] : [{ x: minutes(p), y: p.p50 * 1000 }])) },
          { name: 'p99', points: series.flatMap((p) => (p.p99 === undefined ? [] : [{ x: minutes(p), y: p.p99 * 1000 }])) },
        ],
        { title: 'Request latency', x: { label: 'minutes (0 = now)', min: -10, max: 0 }, y: { label: 'ms', min: 0 }, height: 240 },
      ),
    );
  };
  await render();
  const timer = window.setInterval(() => {
    if (!body.isConnected) window.clearInterval(timer);
    else void render();
  }, 5000);
}

function card(label: string, value: string, id: string): HTMLElement {
  return h('div', { class: 'card', id: `metric-${id}` }, h('span', { class: 'card-value' }, value), h('span', { class: 'card-label' }, label));
}
