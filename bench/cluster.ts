/**
 * `strata bench cluster`: the embedded index against the same build served from object storage by a
 * stateless query node, in one run — the embedded LMDB index, the node with an empty cache (cold:
 * every query's lists come from the store) and the node again (warm: from its cache). Recall, QPS,
 * p50/p99, fetch rounds (dependent round trips to the store per query), GETs and bytes fetched per
 * query, and the publish's throughput; with --nodes, the same index over HTTP from several query
 * nodes (cluster-nodes.ts). Run against the loopback Ceph cluster:
 *
 *   eval "$(scripts/ceph-cluster.sh start)"
 *   npx strata bench cluster --dataset fashion-mnist --store s3://strata/bench
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDataset, prepareDataset, INDEXES_DIR } from '../src/datasets/registry.js';
import { ObjectIndex, publishIndex } from '../src/index/object-index.js';
import { createIndex, openIndex, type SearchResult } from '../src/index/spann.js';
import { LogWriter } from '../src/storage/object-log.js';
import { type ObjectStore, openS3Url } from '../src/storage/object-store.js';
import { existsSync } from 'node:fs';
import { createProgress } from '../src/util/progress.js';
import { quantile } from './engine-process.js';
import { formatTable, fmtBytes } from './report.js';
import { type NodesRow, runNodesBench } from './cluster-nodes.js';

export interface ClusterBenchOptions {
  dataset: string;
  /** s3://bucket/prefix: the run publishes under <prefix>/bench-<dataset>-<time>. */
  store: string;
  k: number;
  queries: number;
  targets: number[];
  cacheDir: string;
  /** Vectors written through the log (one per write, `ingestInFlight` writes outstanding) for the ingest row. */
  ingest: number;
  ingestInFlight: number;
  /** Query nodes (`strata serve --store` processes) for the HTTP rows; 0: none. */
  nodes: number;
  /** Queries in flight for the row spread over every node. */
  nodesConcurrency: number;
  json?: string;
}

export interface IngestRow {
  writes: number;
  inFlight: number;
  seconds: number;
  /** Acknowledged writes per second. */
  writesPerSecond: number;
  /** Batches the log received (group commit puts many writes in one). */
  batches: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** A strong read (LIST the log, fetch the new batches, search) after the ingest, p50 over 100 queries. */
  strongReadP50Ms: number;
}

export interface ClusterRow {
  engine: 'embedded' | 'object cold' | 'object warm';
  targetRecall: number;
  recall: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  /** Most fetch rounds (dependent round trips to the store) one query waited for, and the mean. */
  maxFetchRounds: number;
  meanFetchRounds: number;
  getsPerQuery: number;
  bytesPerQuery: number;
}


/** Writes through the log (copies of base vectors under new ids), then strong reads that must see them. */
async function runIngest(o: ClusterBenchOptions, base: Float32Array, dim: number, count: number, store: ObjectStore, log: (line: string) => void): Promise<IngestRow> {
  const writer = new LogWriter(store, dim);
  const lat: number[] = [];
  const seqs = new Set<number>();
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: o.ingestInFlight }, async () => {
      while (next < o.ingest) {
        const i = next++;
        const row = i % count;
        const s = performance.now();
        seqs.add(await writer.insert([4_000_000_000 - i], base.subarray(row * dim, (row + 1) * dim)));
        lat.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t) / 1000;
  lat.sort((a, b) => a - b);
  const node = await ObjectIndex.open({ store, cacheDir: `${o.cacheDir}-ingest` });
  const reads: number[] = [];
  try {
    for (let q = 0; q < 100; q++) {
      const s = performance.now();
      const r = await node.search(base.subarray((q % count) * dim, ((q % count) + 1) * dim), o.k, { consistency: 'strong' });
      reads.push(performance.now() - s);
      if (q === 0 && r.ids.length === 0) throw new Error('a strong read after the ingest found nothing');
    }
  } finally {
    await node.close();
    rmSync(`${o.cacheDir}-ingest`, { recursive: true, force: true });
  }
  reads.sort((a, b) => a - b);
  const row: IngestRow = { writes: o.ingest, inFlight: o.ingestInFlight, seconds, writesPerSecond: o.ingest / seconds, batches: seqs.size, ackP50Ms: quantile(lat, 0.5), ackP99Ms: quantile(lat, 0.99), strongReadP50Ms: quantile(reads, 0.5) };
  log(`ingest through the log: ${row.writes} writes of one vector, ${row.inFlight} in flight: ${row.writesPerSecond.toFixed(0)} acknowledged writes/s in ${row.batches} batches (group commit), ack p50 ${row.ackP50Ms.toFixed(1)} ms, p99 ${row.ackP99Ms.toFixed(1)} ms; then a strong read (log LIST + new batches + search) p50 ${row.strongReadP50Ms.toFixed(1)} ms`);
  return row;
}

export async function runClusterBench(o: ClusterBenchOptions, log: (line: string) => void = console.log): Promise<{ rows: ClusterRow[]; publish: { seconds: number; objects: number; bytes: number }; ingest: IngestRow | null; nodes: NodesRow[] }> {
  const dataDir = await prepareDataset(o.dataset);
  const data = await loadDataset(dataDir);
  const nq = Math.min(o.queries, data.queryCount);
  const dir = join(dataDir, INDEXES_DIR, 'strata-index');
  const ui = createProgress();
  if (!existsSync(join(dir, 'strata.mdb'))) {
    const idx = await createIndex(dir, { dimension: data.dim, metric: data.metric });
    await idx.build(data.base, undefined, { onProgress: (p) => ui.update(p.stage, p.done, p.total) });
    await idx.close();
    ui.stop();
  }
  log(`dataset ${data.name}: ${data.baseCount} × ${data.dim} (${data.metric}), ${nq} queries, k=${o.k}; store ${o.store}`);
  // The run's own prefix, holding the index as one collection folder (what query nodes serve).
  const root = `${o.store.replace(/\/+$/, '')}/bench-${data.name}-${Date.now().toString(36)}`;
  const collection = data.name.replace(/[^A-Za-z0-9_-]/g, '-');
  const rootStore = await openS3Url(root, { createBucket: true });
  const store = rootStore.within(collection);
  const rows: ClusterRow[] = [];
  try {
    // Publish (the embedded index opened once for writing first, so its graph file is current).
    await (await openIndex(dir)).close();
    const t0 = performance.now();
    const manifest = await publishIndex(dir, store, (stage, done, total) => ui.update(`publish ${stage}`, done, total));
    ui.stop();
    const publish = { seconds: (performance.now() - t0) / 1000, objects: manifest.objects, bytes: manifest.bytes };
    log(`published ${manifest.objects} objects, ${fmtBytes(manifest.bytes)} in ${publish.seconds.toFixed(1)} s (${fmtBytes(manifest.bytes / publish.seconds)}/s)`);

    const recallOf = (ids: Uint32Array, q: number) => {
      let hit = 0;
      const truth = new Set(Array.from(data.groundTruth.subarray(q * data.gtK, q * data.gtK + o.k)));
      for (const id of ids) if (truth.has(id)) hit++;
      return hit / o.k;
    };
    const query = (q: number) => data.queries.subarray(q * data.dim, (q + 1) * data.dim);

    /** One timed pass of the queries through `search`; the row's fetch counters come from the store's. */
    const pass = async (engine: ClusterRow['engine'], targetRecall: number, search: (q: number) => SearchResult | Promise<SearchResult & { fetchRounds?: number }>): Promise<ClusterRow> => {
      const gets0 = store.stats.gets;
      const bytes0 = store.stats.bytesIn;
      const lat: number[] = [];
      let recall = 0;
      let maxRounds = 0;
      let rounds = 0;
      const t = performance.now();
      for (let q = 0; q < nq; q++) {
        const s = performance.now();
        const r = (await search(q)) as SearchResult & { fetchRounds?: number };
        lat.push(performance.now() - s);
        recall += recallOf(r.ids, q);
        maxRounds = Math.max(maxRounds, r.fetchRounds ?? 0);
        rounds += r.fetchRounds ?? 0;
      }
      const secs = (performance.now() - t) / 1000;
      lat.sort((a, b) => a - b);
      return { engine, targetRecall, recall: recall / nq, qps: nq / secs, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), maxFetchRounds: maxRounds, meanFetchRounds: rounds / nq, getsPerQuery: (store.stats.gets - gets0) / nq, bytesPerQuery: (store.stats.bytesIn - bytes0) / nq };
    };
    const best = (a: ClusterRow | undefined, b: ClusterRow) => (a && a.qps >= b.qps ? a : b);
    const embedded = await openIndex(dir, { readOnly: true });
    try {
      for (const targetRecall of o.targets) {
        rmSync(o.cacheDir, { recursive: true, force: true });
        const tOpen = performance.now();
        const node = await ObjectIndex.open({ store, cacheDir: o.cacheDir });
        log(`query node opened (manifest ${node.manifest.version}: skeleton and graph downloaded) in ${(performance.now() - tOpen).toFixed(0)} ms`);
        try {
          const cold = await pass('object cold', targetRecall, (q) => node.search(query(q), o.k, { targetRecall }));
          // Embedded and warm alternate three times (the same machine state for both), best of each.
          let emb: ClusterRow | undefined;
          let warm: ClusterRow | undefined;
          for (let r = 0; r < 3; r++) {
            emb = best(emb, await pass('embedded', targetRecall, (q) => embedded.search(query(q), o.k, { targetRecall })));
            warm = best(warm, await pass('object warm', targetRecall, (q) => node.search(query(q), o.k, { targetRecall })));
          }
          rows.push(emb!, cold, warm!);
        } finally {
          await node.close();
        }
      }
    } finally {
      await embedded.close();
    }
    const f = (x: number, d = 0) => x.toFixed(d);
    const embeddedQps = new Map(rows.filter((r) => r.engine === 'embedded').map((r) => [r.targetRecall, r.qps]));
    log(
      formatTable(rows, [
        { title: 'engine', value: (r) => r.engine },
        { title: 'targetRecall', value: (r) => String(r.targetRecall) },
        { title: `recall@${o.k}`, value: (r) => f(r.recall, 4) },
        { title: 'QPS 1T', value: (r) => f(r.qps) },
        { title: 'of embedded', value: (r) => `${f((100 * r.qps) / (embeddedQps.get(r.targetRecall) ?? r.qps))}%` },
        { title: 'p50 ms', value: (r) => f(r.p50Ms, 3) },
        { title: 'p99 ms', value: (r) => f(r.p99Ms, 3) },
        { title: 'rounds max', value: (r) => String(r.maxFetchRounds) },
        { title: 'rounds mean', value: (r) => f(r.meanFetchRounds, 2) },
        { title: 'GETs/query', value: (r) => f(r.getsPerQuery, 1) },
        { title: 'fetched/query', value: (r) => fmtBytes(r.bytesPerQuery) },
      ]),
    );
    log('rounds: fetch rounds a query waited for (each one round trip of parallel GETs, the dependent round trips to the store); cold: a query node with an empty cache; warm: the same node again.');
    const nodes =
      o.nodes > 0
        ? await runNodesBench(
            { root, collection, nodes: o.nodes, concurrency: o.nodesConcurrency, k: o.k, targetRecall: o.targets[0], queries: data.queries, dim: data.dim, count: nq, recallOf: (ids, q) => recallOf(Uint32Array.from(ids), q), workDir: `${o.cacheDir}-nodes` },
            log,
          )
        : [];
    rmSync(`${o.cacheDir}-nodes`, { recursive: true, force: true });
    // Last: the ingest leaves its writes in the log, which query nodes would then search exactly.
    const ingest = o.ingest > 0 ? await runIngest(o, data.base, data.dim, data.baseCount, store, log) : null;
    if (o.json) {
      writeFileSync(o.json, `${JSON.stringify({ date: new Date().toISOString(), dataset: data.name, k: o.k, queries: nq, publish, rows, nodes, ingest }, null, 2)}\n`);
      log(`wrote ${o.json}`);
    }
    return { rows, publish, ingest, nodes };
  } finally {
    rootStore.close();
  }
}
