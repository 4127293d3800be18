/**
 * `strata bench http`: the HTTP service under load on loopback, against the two things that bound
 * it on the same machine, measured in the same run:
 *   - the embedded library's batch search on the same index, same parameters (the same recall);
 *   - the bare route (bare-server.ts): the service's fastify instance, auth and schemas, answering
 *     the same request with a fixed result — what HTTP alone allows.
 * Each concurrency level runs the bare route and the service back to back. A row reports the
 * service's QPS as a fraction of the harmonic ceiling 1 / (1/bare + 1/embedded) (each request
 * costs one bare request plus one embedded search on the same cores), latencies in µs from our own
 * client (http-load.ts, undici), and the server's CPU per request (/proc, server threads only)
 * against its budget 1.5 × (embedded CPU per query + bare CPU per request).
 *
 *   1. start `strata serve` as a child process (a data folder under the dataset's indexes/, kept
 *      between runs: the collection is loaded once) and the bare server;
 *   2. load: create a collection and upsert the base vectors through the API (1,000 per request);
 *   3. recall@k through the API (batch search) against the ground truth;
 *   4. embedded: the collection's index opened read-only in this process, searchBatch for --seconds
 *      (best of --rounds);
 *   5. per concurrency: bare, then service, --rounds times, best of each; each request one
 *      single-query search;
 *   6. reads during writes: c=8 idle, then c=8 while another client upserts at --upsert-rate points/s
 *      (10 per request, replacing existing points with their own vectors), then c=8 during a
 *      generation rebuild (POST /v1/collections/{name}/rebuild).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, recallAtK, DATASETS_DIR, INDEXES_DIR, type Dataset } from '../src/datasets/registry.js';
import { openIndex } from '../src/index/spann.js';
import { indexDir } from '../src/server/ingest-worker.js';
import { createProgress } from '../src/util/progress.js';
import { workerFile } from '../src/util/workers.js';
import { freePort, quantile } from './engine-process.js';
import { runLoad, type LoadResult } from './http-load.js';
import { formatTable } from './report.js';

export interface HttpBenchOptions {
  dataset: string;
  concurrency: number[];
  seconds: number;
  k: number;
  maxLists: number;
  queries: number;
  /** Times the bare route and the service alternate per concurrency (best of each). */
  rounds: number;
  /** Points per second the writer upserts during the reads-during-writes row. */
  upsertRate: number;
  /** Skip the rebuild row (it re-clusters the collection: tens of seconds on large sets). */
  noRebuild?: boolean;
  /** Drop the service's data folder and load the collection again. */
  reload: boolean;
  json?: string;
}

export interface HttpBenchRow {
  /** 'idle' for the concurrency sweep; 'upserting' / 'rebuilding' for the reads-during-writes rows. */
  load: 'idle' | 'upserting' | 'rebuilding';
  concurrency: number;
  qps: number;
  p50Us: number;
  p99Us: number;
  errors: number;
  shed: number;
  /** The bare route's QPS at this concurrency, and the harmonic ceiling from it and the embedded QPS. */
  bareQps: number;
  ceilingQps: number;
  /** qps / ceilingQps. */
  ofCeiling: number;
  /** Server CPU per answered request, µs (service and bare route). */
  cpuUs: number;
  bareCpuUs: number;
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
  /** CPU per query of the embedded batch search (every thread of this process), µs. */
  embeddedCpuUs: number;
  loadPointsPerSec: number | null;
  rows: HttpBenchRow[];
}

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const COLLECTION = 'bench';
const AUTH = { authorization: `Bearer ${ADMIN_KEY}` };

interface Server {
  child: ChildProcess;
  address: string;
  stop(): Promise<number | null>;
}

/** Start `args` (a node script and its arguments, the port appended by `argsFor`) and wait for /readyz or "ready". */
async function startChild(argsFor: (port: number) => string[], readyPath: string | null): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, argsFor(port), { env: { ...process.env, STRATA_ADMIN_KEY: ADMIN_KEY }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.length > 4096) stdout = stdout.slice(-4096);
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
    if (exitCode !== undefined) throw new Error(`${argsFor(port).join(' ')} exited with ${exitCode} before it was ready`);
    const ready = readyPath ? await fetch(`${address}${readyPath}`).then((r) => r.ok, () => false) : stdout.includes('ready');
    if (ready) break;
    if (performance.now() - t0 > 120_000) throw new Error(`${argsFor(port)[1]} was not ready after 120 s`);
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

// As `npm start` runs it (node --single-threaded-gc: no relaunch, so the PID measured is the server's).
// Log level warn: per-request info lines would be part of what is measured.
const startService = (dataDir: string) => startChild((port) => ['--single-threaded-gc', workerFile('cli/strata'), 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', '--max-pending-queries', '4096'], '/readyz');
const startBare = (dataDir: string) => startChild((port) => ['--single-threaded-gc', fileURLToPath(new URL('./bare-server.js', import.meta.url)), String(port), dataDir], null);

async function api(address: string, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST'): Promise<any> {
  for (;;) {
    const r = await fetch(`${address}${path}`, {
      method,
      headers: { ...AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
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

/** Wait until the collection has no write or rebuild running (the service idle). */
async function settled(address: string): Promise<any> {
  for (;;) {
    const metrics = await fetch(`${address}/metrics`, { headers: AUTH }).then((r) => r.text());
    const pending = /^strata_write_pending_requests (\d+)/m.exec(metrics);
    const c = await api(address, `/v1/collections/${COLLECTION}`);
    if (pending && Number(pending[1]) === 0 && !c.rebuilding) return c;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function row(data: Dataset, i: number): number[] {
  return Array.from(data.base.subarray(i * data.dim, (i + 1) * data.dim));
}

function query(data: Dataset, q: number): number[] {
  return Array.from(data.queries.subarray(q * data.dim, (q + 1) * data.dim));
}

async function embeddedRun(dir: string, data: Dataset, nq: number, k: number, maxLists: number, seconds: number): Promise<{ qps: number; recall: number; cpuUs: number }> {
  const index = await openIndex(dir, { readOnly: true });
  try {
    const queries = data.queries.subarray(0, nq * data.dim);
    const first = await index.searchBatch(queries, k, { maxLists }); // also warms the pool up
    const recall = recallAtK(first.ids, k, data.groundTruth, data.gtK, nq);
    let done = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await index.searchBatch(queries, k, { maxLists });
      done += nq;
    }
    const cpu = process.cpuUsage(cpu0);
    return { qps: done / ((performance.now() - t0) / 1000), recall, cpuUs: (cpu.user + cpu.system) / done };
  } finally {
    await index.close();
  }
}

const searchPath = `/v1/collections/${COLLECTION}/search`;

function summarize(load: HttpBenchRow['load'], c: number, r: LoadResult, bare: LoadResult | null, embeddedQps: number): HttpBenchRow {
  const qps = r.ok / r.seconds;
  const bareQps = bare ? bare.ok / bare.seconds : Number.NaN;
  const ceilingQps = 1 / (1 / bareQps + 1 / embeddedQps);
  const shed = r.statuses['503'] ?? 0;
  const otherStatuses = Object.entries(r.statuses).reduce((n, [s, x]) => n + (s === '503' ? 0 : x), 0);
  return {
    load,
    concurrency: c,
    qps,
    p50Us: quantile(r.latencyUs, 0.5),
    p99Us: quantile(r.latencyUs, 0.99),
    errors: r.errors + otherStatuses,
    shed,
    bareQps,
    ceilingQps,
    ofCeiling: qps / ceilingQps,
    cpuUs: (r.serverCpuSeconds * 1e6) / Math.max(1, r.ok),
    bareCpuUs: bare ? (bare.serverCpuSeconds * 1e6) / Math.max(1, bare.ok) : Number.NaN,
  };
}

export async function runHttpBench(o: HttpBenchOptions, log: (s: string) => void = console.log): Promise<HttpBenchResult> {
  const ui = createProgress();
  const data = await loadDataset(o.dataset, { report: ui.update });
  const nq = Math.min(o.queries, data.queryCount);
  log(`dataset ${data.name}: ${data.baseCount} × ${data.dim} (${data.metric}), ${nq} queries, k=${o.k}, maxLists ${o.maxLists}; ${o.seconds} s per load level`);
  const dataDir = join(DATASETS_DIR, data.name, INDEXES_DIR, 'http-service');
  const bareDir = join(DATASETS_DIR, data.name, INDEXES_DIR, 'http-bare');
  const collectionDir = join(dataDir, 'collections', COLLECTION);
  if (o.reload) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  let server = await startService(dataDir);
  let bare: Server | null = null;
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
      server = await startService(dataDir);
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
    let embedded = await embeddedRun(indexFolder, data, nq, o.k, o.maxLists, o.seconds);
    for (let round = 1; round < o.rounds; round++) {
      const again = await embeddedRun(indexFolder, data, nq, o.k, o.maxLists, o.seconds);
      if (again.qps > embedded.qps) embedded = again;
    }
    log(`recall@${o.k}: HTTP ${recallHttp.toFixed(4)}, embedded ${embedded.recall.toFixed(4)}; embedded batch search ${embedded.qps.toFixed(0)} QPS, ${embedded.cpuUs.toFixed(0)} µs CPU per query`);
    rmSync(bareDir, { recursive: true, force: true });
    bare = await startBare(bareDir);
    const bodies = searches.map((s) => JSON.stringify(s));
    const drive = (srv: Server, c: number, seconds = o.seconds) => runLoad({ origin: srv.address, path: searchPath, bodies, headers: AUTH, connections: c, seconds, serverPid: srv.child.pid! });
    await drive(server, 8, 2); // warm-up
    await drive(bare, 8, 2);
    const rows: HttpBenchRow[] = [];
    const bareAt = new Map<number, LoadResult>();
    // The bare route and the service alternate `rounds` times per level (the same machine state for
    // both; these VMs drift by tens of percent within a minute): best of each.
    const best = (a: LoadResult | undefined, b: LoadResult) => (a && a.ok / a.seconds >= b.ok / b.seconds ? a : b);
    for (const c of o.concurrency) {
      let b: LoadResult | undefined, s: LoadResult | undefined;
      for (let round = 0; round < o.rounds; round++) {
        b = best(b, await drive(bare, c));
        s = best(s, await drive(server, c));
      }
      bareAt.set(c, b!);
      const r = summarize('idle', c, s!, b!, embedded.qps);
      rows.push(r);
      log(`  concurrency ${c}: ${r.qps.toFixed(0)} QPS (bare route ${r.bareQps.toFixed(0)}, ceiling ${r.ceilingQps.toFixed(0)}: ${(100 * r.ofCeiling).toFixed(0)}%), p50 ${r.p50Us.toFixed(0)} µs, p99 ${r.p99Us.toFixed(0)} µs, ${r.cpuUs.toFixed(0)} µs CPU per request`);
    }
    await bare.stop();
    bare = null;

    // Reads during writes: c=8 idle (again, right before), then with an upserting client beside it.
    const c8 = 8;
    const idle = summarize('idle', c8, await drive(server, c8), bareAt.get(c8) ?? null, embedded.qps);
    const upserts: string[] = [];
    for (let u = 0; u < 200; u++) {
      const points = [];
      for (let i = 0; i < 10; i++) {
        const id = (u * 10 + i) * 37 % data.baseCount;
        points.push({ id, vector: row(data, id) });
      }
      upserts.push(JSON.stringify({ points }));
    }
    const [during] = await Promise.all([
      drive(server, c8),
      runLoad({ origin: server.address, path: `/v1/collections/${COLLECTION}/points`, bodies: upserts, headers: AUTH, connections: 1, seconds: o.seconds, rate: o.upsertRate / 10 }),
    ]);
    const writing = summarize('upserting', c8, during, bareAt.get(c8) ?? null, embedded.qps);
    rows.push({ ...idle, load: 'idle' }, writing);
    log(`  concurrency ${c8} idle: p99 ${idle.p99Us.toFixed(0)} µs; while upserting ${o.upsertRate} points/s: p99 ${writing.p99Us.toFixed(0)} µs (${(writing.p99Us / idle.p99Us).toFixed(2)}×), ${writing.qps.toFixed(0)} QPS`);
    if (!o.noRebuild) {
      await settled(server.address);
      const before = (await api(server.address, `/v1/collections/${COLLECTION}`)).generation as number;
      await api(server.address, `/v1/collections/${COLLECTION}/rebuild`, {});
      const t0 = performance.now();
      const results: LoadResult[] = [];
      // Search at c=8 in 2 s slices until the new generation serves.
      for (;;) {
        results.push(await drive(server, c8, 2));
        const c = await api(server.address, `/v1/collections/${COLLECTION}`);
        if (c.generation > before && !c.rebuilding) break;
        if (performance.now() - t0 > 600_000) throw new Error('the rebuild did not finish in 10 minutes');
      }
      const merged: LoadResult = {
        seconds: results.reduce((s, r) => s + r.seconds, 0),
        ok: results.reduce((s, r) => s + r.ok, 0),
        statuses: Object.assign({}, ...results.map((r) => r.statuses)),
        errors: results.reduce((s, r) => s + r.errors, 0),
        latencyUs: Float64Array.from(results.flatMap((r) => Array.from(r.latencyUs))).sort(),
        serverCpuSeconds: results.reduce((s, r) => s + r.serverCpuSeconds, 0),
      };
      const rebuilding = summarize('rebuilding', c8, merged, bareAt.get(c8) ?? null, embedded.qps);
      rows.push(rebuilding);
      log(`  concurrency ${c8} during a rebuild (${((performance.now() - t0) / 1000).toFixed(1)} s): p99 ${rebuilding.p99Us.toFixed(0)} µs (${(rebuilding.p99Us / idle.p99Us).toFixed(2)}× idle), ${rebuilding.qps.toFixed(0)} QPS`);
    }
    const result: HttpBenchResult = { dataset: data.name, count: data.baseCount, dim: data.dim, k: o.k, maxLists: o.maxLists, recallHttp, recallEmbedded: embedded.recall, embeddedQps: embedded.qps, embeddedCpuUs: embedded.cpuUs, loadPointsPerSec, rows };
    const budget = (x: HttpBenchRow) => 1.5 * (embedded.cpuUs + x.bareCpuUs);
    log(
      formatTable(rows, [
        { title: 'load', value: (x) => x.load },
        { title: 'conc.', value: (x) => String(x.concurrency) },
        { title: 'QPS', value: (x) => x.qps.toFixed(0) },
        { title: 'bare QPS', value: (x) => x.bareQps.toFixed(0) },
        { title: 'of ceiling', value: (x) => `${(100 * x.ofCeiling).toFixed(0)}%` },
        { title: 'p50 µs', value: (x) => x.p50Us.toFixed(0) },
        { title: 'p99 µs', value: (x) => x.p99Us.toFixed(0) },
        { title: 'p99/p50', value: (x) => (x.p99Us / x.p50Us).toFixed(1) },
        { title: 'CPU µs/req', value: (x) => x.cpuUs.toFixed(0) },
        { title: 'budget µs', value: (x) => budget(x).toFixed(0) },
        { title: 'errors', value: (x) => String(x.errors) },
        { title: '503 shed', value: (x) => String(x.shed) },
      ]),
    );
    log(`ceiling = 1 / (1/bare + 1/embedded), embedded batch search ${embedded.qps.toFixed(0)} QPS at recall@${o.k} ${embedded.recall.toFixed(4)} (HTTP ${recallHttp.toFixed(4)}); budget = 1.5 × (embedded ${embedded.cpuUs.toFixed(0)} µs CPU per query + the bare route's CPU per request)${loadPointsPerSec ? `; loaded over HTTP at ${loadPointsPerSec.toFixed(0)} points/s` : ''}`);
    if (o.json) {
      writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2) + '\n');
      log(`wrote ${o.json}`);
    }
    return result;
  } finally {
    if (bare) await bare.stop();
    const code = await server.stop();
    if (code !== 0) log(`warning: strata serve exited with ${code}`);
  }
}
