/**
 * Metrics at a glance (admin key: /metrics names collections): the service's own Prometheus
 * counters and histograms sampled every few seconds while the console is open, kept for the last
 * ten minutes in this tab — requests and search queries per second, p50/p99 request latency between
 * samples, queries and writes in flight, shed requests.
 */
import { api } from './api.js';
import { errorBox, fmt, h, show } from './dom.js';
import { plot } from './plot.js';
import { buckets, parsePrometheus, quantile, total } from './prometheus.js';

const EVERY_MS = 2000;
const KEEP = 300; // ten minutes at 2 s

interface Snapshot {
  t: number;
  requests: number;
  queries: number;
  shed: number;
  pendingQueries: number;
  pendingWrites: number;
  latency: Map<number, number>;
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

const history: Point[] = [];
let last: Snapshot | null = null;
let timer: number | undefined;
let lastError: unknown = null;
let onSample: (() => void) | null = null;

/** Requests the console itself makes to /metrics are left out of the rates. */
const notMetrics = (l: Record<string, string>) => l.route !== '/metrics';

async function sample(): Promise<void> {
  try {
    const s = parsePrometheus(await api<string>('/metrics'));
    const snap: Snapshot = {
      t: Date.now(),
      requests: total(s, 'strata_http_request_duration_seconds_count', notMetrics),
      queries: total(s, 'strata_search_queries_total'),
      shed: total(s, 'strata_shed_total'),
      pendingQueries: total(s, 'strata_search_pending_queries'),
      pendingWrites: total(s, 'strata_write_pending_requests'),
      latency: buckets(s, 'strata_http_request_duration_seconds', notMetrics),
    };
    if (last) {
      const dt = (snap.t - last.t) / 1000;
      history.push({
        t: snap.t,
        rps: (snap.requests - last.requests) / dt,
        qps: (snap.queries - last.queries) / dt,
        p50: quantile(0.5, snap.latency, last.latency),
        p99: quantile(0.99, snap.latency, last.latency),
        pendingQueries: snap.pendingQueries,
        pendingWrites: snap.pendingWrites,
        shed: snap.shed,
      });
      if (history.length > KEEP) history.shift();
    }
    last = snap;
    lastError = null;
  } catch (err) {
    lastError = err;
  }
  onSample?.();
}

/** Start sampling (the admin key signed in); idempotent. */
export function startSampling(): void {
  if (timer !== undefined) return;
  void sample();
  timer = window.setInterval(sample, EVERY_MS);
}

export function stopSampling(): void {
  if (timer !== undefined) window.clearInterval(timer);
  timer = undefined;
  history.length = 0;
  last = null;
}

export function metricsPage(main: HTMLElement): void {
  const body = h('div', { id: 'metrics' });
  show(main, h('h1', {}, 'Metrics'), h('p', { class: 'muted' }, `sampled every ${EVERY_MS / 1000} s from /metrics while the console is open (last ten minutes)`), body);
  const render = () => {
    if (!body.isConnected) {
      onSample = null;
      return;
    }
    const now = history[history.length - 1];
    const minutes = (p: Point) => (p.t - Date.now()) / 60000;
    show(
      body,
      lastError ? errorBox(lastError) : null,
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
          { name: 'requests/s', points: history.map((p) => ({ x: minutes(p), y: p.rps })) },
          { name: 'queries/s', points: history.map((p) => ({ x: minutes(p), y: p.qps })) },
        ],
        { title: 'Throughput', x: { label: 'minutes (0 = now)', min: -10, max: 0 }, y: { label: 'per second', min: 0 }, height: 240 },
      ),
      plot(
        [
          { name: 'p50', points: history.flatMap((p) => (p.p50 === undefined ? [] : [{ x: minutes(p), y: p.p50 * 1000 }])) },
          { name: 'p99', points: history.flatMap((p) => (p.p99 === undefined ? [] : [{ x: minutes(p), y: p.p99 * 1000 }])) },
        ],
        { title: 'Request latency', x: { label: 'minutes (0 = now)', min: -10, max: 0 }, y: { label: 'ms', min: 0 }, height: 240 },
      ),
    );
  };
  onSample = render;
  render();
}

function card(label: string, value: string, id: string): HTMLElement {
  return h('div', { class: 'card', id: `metric-${id}` }, h('span', { class: 'card-value' }, value), h('span', { class: 'card-label' }, label));
}
