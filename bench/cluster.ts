/**
 * `strata bench cluster`: the embedded index against the same build served from object storage by a
 * stateless query node, in one run — the embedded LMDB index, the node with an empty cache (cold:
 * every query's lists come from the store) and the node again (warm: from its cache). Recall, QPS,
 * p50/p99, fetch rounds (dependent round trips to the store per query), GETs and bytes fetched per
 * query, and the publish's throughput. Run against the loopback Ceph cluster:
 *
 *   eval "$(scripts/ceph-cluster.sh start)"
 *   npx strata bench cluster --dataset fashion-mnist --store s3://strata/bench
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDataset, prepareDataset, INDEXES_DIR } from '../src/datasets/registry.js';
import { ObjectIndex, publishIndex } from '../src/index/object-index.js';
import { createIndex, openIndex } from '../src/index/spann.js';
import { openS3Url } from '../src/storage/object-store.js';
import { existsSync } from 'node:fs';
import { createProgress } from '../src/util/progress.js';
import { formatTable, fmtBytes } from './report.js';

export interface ClusterBenchOptions {
  dataset: string;
  /** s3://bucket/prefix: the run publishes under <prefix>/bench-<dataset>-<time>. */
  store: string;
  k: number;
  queries: number;
  targets: number[];
  cacheDir: string;
  json?: string;
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

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

export async function runClusterBench(o: ClusterBenchOptions, log: (line: string) => void = console.log): Promise<{ rows: ClusterRow[]; publish: { seconds: number; objects: number; bytes: number } }> {
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
  const store = await openS3Url(`${o.store.replace(/\/+$/, '')}/bench-${data.name}-${Date.now().toString(36)}`, { createBucket: true });
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

    const embedded = await openIndex(dir, { readOnly: true });
    try {
      for (const targetRecall of o.targets) {
        for (let q = 0; q < nq; q++) embedded.search(query(q), o.k, { targetRecall }); // warm the page cache
        const lat: number[] = [];
        let recall = 0;
        const t = performance.now();
        for (let q = 0; q < nq; q++) {
          const s = performance.now();
          const r = embedded.search(query(q), o.k, { targetRecall });
          lat.push(performance.now() - s);
          recall += recallOf(r.ids, q);
        }
        const secs = (performance.now() - t) / 1000;
        lat.sort((a, b) => a - b);
        rows.push({ engine: 'embedded', targetRecall, recall: recall / nq, qps: nq / secs, p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99), maxFetchRounds: 0, meanFetchRounds: 0, getsPerQuery: 0, bytesPerQuery: 0 });
      }
    } finally {
      await embedded.close();
    }

    for (const targetRecall of o.targets) {
      rmSync(o.cacheDir, { recursive: true, force: true });
      const tOpen = performance.now();
      const node = await ObjectIndex.open({ store, cacheDir: o.cacheDir });
      log(`query node opened (manifest ${node.manifest.version}: skeleton and graph downloaded) in ${(performance.now() - tOpen).toFixed(0)} ms`);
      try {
        for (const pass of ['object cold', 'object warm'] as const) {
          const gets0 = store.stats.gets;
          const bytes0 = store.stats.bytesIn;
          const lat: number[] = [];
          let recall = 0;
          let maxRounds = 0;
          let rounds = 0;
          const t = performance.now();
          for (let q = 0; q < nq; q++) {
            const s = performance.now();
            const r = await node.search(query(q), o.k, { targetRecall });
            lat.push(performance.now() - s);
            recall += recallOf(r.ids, q);
            maxRounds = Math.max(maxRounds, r.fetchRounds);
            rounds += r.fetchRounds;
          }
          const secs = (performance.now() - t) / 1000;
          lat.sort((a, b) => a - b);
          rows.push({
            engine: pass,
            targetRecall,
            recall: recall / nq,
            qps: nq / secs,
            p50Ms: pct(lat, 0.5),
            p99Ms: pct(lat, 0.99),
            maxFetchRounds: maxRounds,
            meanFetchRounds: rounds / nq,
            getsPerQuery: (store.stats.gets - gets0) / nq,
            bytesPerQuery: (store.stats.bytesIn - bytes0) / nq,
          });
        }
      } finally {
        await node.close();
      }
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
    if (o.json) {
      writeFileSync(o.json, `${JSON.stringify({ date: new Date().toISOString(), dataset: data.name, k: o.k, queries: nq, publish, rows }, null, 2)}\n`);
      log(`wrote ${o.json}`);
    }
    return { rows, publish };
  } finally {
    store.close();
  }
}
