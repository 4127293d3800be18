/**
 * `strata bench http`: the HTTP service under load from autocannon on loopback, against the embedded
 * library's batch search on the same index, same parameters (so the same recall), same machine.
 *
 *   1. start `strata serve` as a child process on a free port (a data folder under the dataset's
 *      indexes/, kept between runs: the collection is loaded once);
 *   2. load: create a collection and upsert the base vectors through the API (1,000 per request;
 *      the first request builds the index, the rest are live inserts, and the service rebuilds the
 *      index as the collection grows) — ingest rate over HTTP;
 *   3. recall@k of the collection through the API (batch search) against the ground truth;
 *   4. embedded: the same index (the collection's current generation) opened read-only in this
 *      process, searchBatch over the queries for
 *      `--seconds` — the QPS the HTTP numbers are compared with;
 *   5. for each concurrency: autocannon with that many connections, each request one search of one
 *      query (cycling through the queries) for `--seconds`: QPS, p50/p99, errors, 503s shed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { loadDataset, recallAtK, DATASETS_DIR, INDEXES_DIR, type Dataset } from '../src/datasets/registry.js';
import { openIndex } from '../src/index/spann.js';
import { indexDir } from '../src/server/ingest-worker.js';
import { createProgress } from '../src/util/progress.js';
import { workerFile } from '../src/util/workers.js';
import { formatTable } from './report.js';

export interface HttpBenchOptions {
  dataset: string;
  concurrency: number[];
  seconds: number;
  k: number;
  maxLists: number;
  queries: number;
  /** Drop the service's data folder and load the collection again. */
  reload: boolean;
  json?: string;
}

export interface HttpBenchRow {
  concurrency: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  shed: number;
  embeddedQps: number;
  ratio: number;
}

export interface HttpBenchResult {
  dataset: string;
  count: number;
  dim: number;
  k: number;
  maxLists: number;
  recallHttp: number;
  recallEmbedded: number;
  embeddedQps: number;
  loadPointsPerSec: number | null;
  rows: HttpBenchRow[];
}

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const COLLECTION = 'bench';

interface Server {
  child: ChildProcess;
  address: string;
  stop(): Promise<number | null>;
}

/** A free loopback port: bind port 0, read it, let it go. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startServer(dataDir: string): Promise<Server> {
  const cli = workerFile('cli/strata');
  const port = await freePort();
  // Log level warn: per-request info lines would be part of what is measured.
  const child = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', '--max-pending-queries', '4096'], {
    env: { ...process.env, STRATA_ADMIN_KEY: ADMIN_KEY },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const address = `http://127.0.0.1:${port}`;
  for (const t0 = performance.now(); ; ) {
    if (exitCode !== undefined) throw new Error(`strata serve exited with ${exitCode} before it was ready`);
    const ready = await fetch(`${address}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (performance.now() - t0 > 120_000) throw new Error('strata serve was not ready after 120 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    address,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function api(address: string, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST'): Promise<any> {
  for (;;) {
    const r = await fetch(`${address}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = await r.json();
    if (r.status === 503) {
      // Shed (writes queue behind a rebuild, say): wait as told and send it again, as a client should.
      await new Promise((resolve) => setTimeout(resolve, Number(r.headers.get('retry-after') ?? 1) * 1000));
      continue;
    }
    if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  }
}

/** Wait until the collection has no rebuild running (generation stable and the service idle). */
async function settled(address: string): Promise<any> {
  for (;;) {
    const metrics = await fetch(`${address}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }).then((r) => r.text());
    const pending = /^strata_write_pending_requests (\d+)/m.exec(metrics);
    if (pending && Number(pending[1]) === 0) return api(address, `/v1/collections/${COLLECTION}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function row(data: Dataset, i: number): number[] {
  return Array.from(data.base.subarray(i * data.dim, (i + 1) * data.dim));
}

function query(data: Dataset, q: number): number[] {
  return Array.from(data.queries.subarray(q * data.dim, (q + 1) * data.dim));
}

async function embeddedQps(dir: string, data: Dataset, nq: number, k: number, maxLists: number, seconds: number): Promise<{ qps: number; recall: number }> {
  const index = await openIndex(dir, { readOnly: true });
  try {
    const queries = data.queries.subarray(0, nq * data.dim);
    const first = await index.searchBatch(queries, k, { maxLists }); // also warms the pool up
    const recall = recallAtK(first.ids, k, data.groundTruth, data.gtK, nq);
    let done = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await index.searchBatch(queries, k, { maxLists });
      done += nq;
    }
    return { qps: done / ((performance.now() - t0) / 1000), recall };
  } finally {
    await index.close();
  }
}

function load(address: string, path: string, bodies: string[], connections: number, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const inst = autocannon(
      {
        url: address,
        connections,
        duration: seconds,
        requests: bodies.map((body) => ({ method: 'POST', path, body, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' } })),
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    void inst;
  });
}

export async function runHttpBench(o: HttpBenchOptions, log: (s: string) => void = console.log): Promise<HttpBenchResult> {
  const ui = createProgress();
  const data = await loadDataset(o.dataset, { report: ui.update });
  const nq = Math.min(o.queries, data.queryCount);
  log(`dataset ${data.name}: ${data.baseCount} × ${data.dim} (${data.metric}), ${nq} queries, k=${o.k}, maxLists ${o.maxLists}; ${o.seconds} s per load level`);
  const dataDir = join(DATASETS_DIR, data.name, INDEXES_DIR, 'http-service');
  const collectionDir = join(dataDir, 'collections', COLLECTION);
  if (o.reload) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  let server = await startServer(dataDir);
  let loadPointsPerSec: number | null = null;
  try {
    const existing = (await api(server.address, '/v1/collections')).collections as Array<{ name: string; points: number }>;
    const have = existing.find((c) => c.name === COLLECTION);
    if (!have || have.points !== data.baseCount) {
      if (have) await api(server.address, `/v1/collections/${COLLECTION}`, undefined, 'DELETE');
      await api(server.address, '/v1/collections', { name: COLLECTION, dimension: data.dim, metric: data.metric });
      const t0 = performance.now();
      for (let s = 0; s < data.baseCount; s += 1000) {
        const points = [];
        for (let i = s; i < Math.min(data.baseCount, s + 1000); i++) points.push({ id: i, vector: row(data, i) });
        await api(server.address, `/v1/collections/${COLLECTION}/points`, { points });
        ui.update('load over HTTP', Math.min(data.baseCount, s + 1000), data.baseCount);
      }
      loadPointsPerSec = data.baseCount / ((performance.now() - t0) / 1000);
      ui.stop();
      const stats = await settled(server.address);
      log(`loaded over HTTP at ${loadPointsPerSec.toFixed(0)} points/s; index generation ${stats.generation} (last rebuild ${JSON.stringify(stats.lastRebuild ?? null)}), ${stats.heads} heads`);
      // Restart so the measured service starts from a saved graph, as a deployed one would.
      await server.stop();
      server = await startServer(dataDir);
    }
    const searches = Array.from({ length: nq }, (_, q) => ({ vector: query(data, q), k: o.k, params: { maxLists: o.maxLists } }));
    const ids = new Uint32Array(nq * o.k).fill(0xffffffff);
    for (let s = 0; s < nq; s += 256) {
      const r = await api(server.address, `/v1/collections/${COLLECTION}/search/batch`, { searches: searches.slice(s, s + 256) });
      (r.results as Array<Array<{ id: number }>>).forEach((hits, j) => hits.forEach((h, m) => (ids[(s + j) * o.k + m] = h.id)));
    }
    const recallHttp = recallAtK(ids, o.k, data.groundTruth, data.gtK, nq);
    const { generation } = await settled(server.address);
    const indexFolder = indexDir(collectionDir, generation);
    if (!existsSync(indexFolder)) throw new Error(`missing ${indexFolder}`);
    const embedded = await embeddedQps(indexFolder, data, nq, o.k, o.maxLists, o.seconds);
    log(`recall@${o.k}: HTTP ${recallHttp.toFixed(4)}, embedded ${embedded.recall.toFixed(4)}; embedded batch search ${embedded.qps.toFixed(0)} QPS`);
    const bodies = searches.map((s) => JSON.stringify(s));
    const rows: HttpBenchRow[] = [];
    await load(server.address, `/v1/collections/${COLLECTION}/search`, bodies, 8, 2); // warm-up
    for (const c of o.concurrency) {
      const r = await load(server.address, `/v1/collections/${COLLECTION}/search`, bodies, c, o.seconds);
      const shed = r.statusCodeStats?.['503']?.count ?? 0;
      const okRequests = r.requests.total - r.non2xx;
      const qps = okRequests / (r.duration || o.seconds);
      rows.push({ concurrency: c, qps, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts + (r.non2xx - shed), shed, embeddedQps: embedded.qps, ratio: qps / embedded.qps });
      log(`  concurrency ${c}: ${qps.toFixed(0)} QPS, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${shed} shed`);
    }
    const result: HttpBenchResult = { dataset: data.name, count: data.baseCount, dim: data.dim, k: o.k, maxLists: o.maxLists, recallHttp, recallEmbedded: embedded.recall, embeddedQps: embedded.qps, loadPointsPerSec, rows };
    log(
      formatTable(rows, [
        { title: 'concurrency', value: (x) => String(x.concurrency) },
        { title: 'QPS', value: (x) => x.qps.toFixed(0) },
        { title: 'p50 ms', value: (x) => x.p50Ms.toFixed(2) },
        { title: 'p99 ms', value: (x) => x.p99Ms.toFixed(2) },
        { title: 'p99/p50', value: (x) => (x.p99Ms / Math.max(x.p50Ms, 0.01)).toFixed(1) },
        { title: 'errors', value: (x) => String(x.errors) },
        { title: '503 shed', value: (x) => String(x.shed) },
        { title: 'vs embedded', value: (x) => `${(x.ratio * 100).toFixed(0)}%` },
      ]),
    );
    log(`embedded batch search: ${embedded.qps.toFixed(0)} QPS at recall@${o.k} ${embedded.recall.toFixed(4)} (HTTP ${recallHttp.toFixed(4)})${loadPointsPerSec ? `; loaded over HTTP at ${loadPointsPerSec.toFixed(0)} points/s` : ''}`);
    if (o.json) {
      writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2) + '\n');
      log(`wrote ${o.json}`);
    }
    return result;
  } finally {
    const code = await server.stop();
    if (code !== 0) log(`warning: strata serve exited with ${code}`);
  }
}
