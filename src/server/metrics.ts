/**
 * Prometheus metrics (prom-client), one registry per service instance. Request latency histograms
 * by route and status; load shedding; search batching; and, read when scraped, the size of each
 * collection and the search batcher's queue.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Collection, Collections } from './collections.js';
import { MetricsHistory } from './metrics-history.js';
import type { NodeCollection, StoreCollections } from './node-collections.js';
import type { NodeRing } from './node-ring.js';

/** Upper bounds (seconds) of the request-latency histogram's buckets. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

/** What every service counts: request latency, load shedding, queries and writes per collection. */
export class HttpMetrics {
  readonly registry = new Registry();
  readonly requestSeconds: Histogram<'method' | 'route' | 'status'>;
  readonly shed: Counter<'kind'>;
  readonly queries: Counter<'collection'>;
  readonly writes: Counter<'collection' | 'op'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'strata_process_' });
    this.requestSeconds = new Histogram({
      name: 'strata_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.shed = new Counter({ name: 'strata_shed_total', help: 'requests refused with 503 because too much was in flight', labelNames: ['kind'], registers });
    this.queries = new Counter({ name: 'strata_search_queries_total', help: 'queries searched', labelNames: ['collection'], registers });
    this.writes = new Counter({ name: 'strata_write_points_total', help: 'points written (upserted or deleted)', labelNames: ['collection', 'op'], registers });
  }
}

/** The embedded service's metrics: HttpMetrics and, read when scraped, its collections and queues. */
export class ServiceMetrics extends HttpMetrics {
  /** The last minutes of these metrics, for the web console (started and stopped by app.ts). */
  readonly history = new MetricsHistory(this.registry, LATENCY_BUCKETS);

  constructor(collections: Collections) {
    super();
    const registers = [this.registry];
    const batcher = collections.batcher;
    new Gauge({ name: 'strata_search_pending_queries', help: 'queries admitted and not yet answered', registers, collect() { this.set(batcher.pending); } });
    new Gauge({ name: 'strata_search_inline_queries', help: 'queries searched on the event loop (small groups of a cheap collection)', registers, collect() { this.set(batcher.queriesInline); } });
    new Gauge({ name: 'strata_search_batch_size_mean', help: 'mean queries per search batch sent to the worker pool (micro-batching)', registers, collect() { this.set(batcher.batchesRun ? batcher.queriesRun / batcher.batchesRun : 0); } });
    new Gauge({ name: 'strata_write_pending_requests', help: 'write requests (upserts, deletes, ingests, generations) admitted and not yet done', registers, collect() { this.set(collections.writes.pending); } });
    const each = (f: (g: Gauge<'collection'>, name: string, c: Collection) => void) =>
      function (this: Gauge<'collection'>) {
        this.reset();
        for (const c of collections.list()) f(this, c.record.name, c);
      };
    new Gauge({ name: 'strata_collection_points', help: 'live points per collection', labelNames: ['collection'], registers, collect: each((g, n, c) => g.set({ collection: n }, c.reader.count)) });
    new Gauge({ name: 'strata_collection_disk_bytes', help: 'bytes on disk per collection (index LMDB file + head graph + point store)', labelNames: ['collection'], registers, collect: each((g, n, c) => g.set({ collection: n }, c.reader.diskBytes() + c.points.diskBytes())) });
    new Gauge({ name: 'strata_collection_heads', help: 'in-memory heads per collection', labelNames: ['collection'], registers, collect: each((g, n, c) => g.set({ collection: n }, c.reader.built ? c.reader.stats().heads : 0)) });
    new Gauge({ name: 'strata_collection_generation', help: 'index generation per collection (grows with each rebuild)', labelNames: ['collection'], registers, collect: each((g, n, c) => g.set({ collection: n }, c.generation)) });
    new Gauge({ name: 'strata_rebuilds_total', help: 'collections re-clustered into a new index generation since start', registers, collect() { this.set(collections.rebuilds); } });
    new Gauge({ name: 'strata_collection_tombstones', help: 'deleted points whose entries await compaction', labelNames: ['collection'], registers, collect: each((g, n, c) => g.set({ collection: n }, c.reader.built ? c.reader.stats().tombstones : 0)) });
  }
}

/** A query node's metrics: HttpMetrics and, read when scraped, its caches, logs and forwards. */
export class NodeMetrics extends HttpMetrics {
  constructor(collections: StoreCollections, ring: NodeRing) {
    super();
    const registers = [this.registry];
    const each = (f: (g: Gauge<'collection'>, c: NodeCollection) => void) =>
      async function (this: Gauge<'collection'>) {
        this.reset();
        for (const c of await collections.opened()) f(this, c);
      };
    new Gauge({ name: 'strata_node_manifest', help: 'manifest version served per collection', labelNames: ['collection'], registers, collect: each((g, c) => g.set({ collection: c.name }, c.index.manifest.version)) });
    new Gauge({ name: 'strata_node_log_rows', help: "vectors searched exactly from the collection's log (written after its manifest)", labelNames: ['collection'], registers, collect: each((g, c) => g.set({ collection: c.name }, c.index.describe().logRows)) });
    new Gauge({ name: 'strata_node_cache_hits', help: 'posting objects found in the cache', labelNames: ['collection'], registers, collect: each((g, c) => g.set({ collection: c.name }, c.index.cacheStats.hits)) });
    new Gauge({ name: 'strata_node_cache_misses', help: 'posting objects fetched from the store', labelNames: ['collection'], registers, collect: each((g, c) => g.set({ collection: c.name }, c.index.cacheStats.misses)) });
    new Gauge({ name: 'strata_node_cache_bytes', help: 'bytes the posting cache holds', labelNames: ['collection'], registers, collect: each((g, c) => g.set({ collection: c.name }, c.index.cacheStats.bytes)) });
    new Gauge({ name: 'strata_node_store_gets', help: 'GETs sent to the object store', registers, collect() { this.set(collections.root.stats.gets); } });
    new Gauge({ name: 'strata_node_forwarded', help: "queries sent to their collection's owner node", registers, collect() { this.set(ring.counts.forwarded); } });
    new Gauge({ name: 'strata_node_owner_down', help: 'queries answered here because their owner node did not answer', registers, collect() { this.set(ring.counts.ownerDown); } });
  }
}
