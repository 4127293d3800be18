import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLog, publishIndex } from '../../src/index/object-index.js';
import { createIndex, openIndex } from '../../src/index/spann.js';
import { S3ObjectStore } from '../../src/storage/object-store.js';
import { resolveConfig } from '../../src/server/config.js';
import { buildQueryNode, type QueryNode } from '../../src/server/query-node.js';
import { freePort } from '../../bench/engine-process.js';
import { mixture, tempDir } from '../helpers.js';
import { cluster, clusterStore } from './cluster-env.js';
// @ts-expect-error plain ESM fixture shared with the child process
import { vectorOf } from '../fixtures/log-vectors.mjs';

// `strata serve --store`: stateless query nodes over HTTP on the loopback Ceph cluster. Two nodes
// share two collections by rendezvous hashing; every answer equals the embedded index's whichever
// node is asked, the owner down or not; writes through any node are durable when answered and seen
// by the next read through any node; kill -9 of a writing node and an OSD killed under mixed load
// lose nothing acknowledged.
const DIM = 16, N = 4000, NQ = 30, K = 10;
const ADMIN = 'query-node-test-admin-key-0123';
const STRATA = fileURLToPath(new URL('../../dist/src/cli/strata.js', import.meta.url));
const tmp = tempDir('query-node');
const prefix = `nodes-${Date.now().toString(36)}`;
const NAMES = ['alpha', 'beta'] as const;
const queries = mixture(NQ, DIM, 22);
/** The embedded indexes' answers to `queries`, per collection (before any write through the nodes). */
const expected: Record<string, Array<{ ids: number[]; distances: number[] }>> = {};
const stores: S3ObjectStore[] = [];
const ports: number[] = [];
const nodes: Array<QueryNode | null> = [null, null];

async function store(name: string): Promise<S3ObjectStore> {
  const s = await S3ObjectStore.open({ ...clusterStore, prefix: `${prefix}/${name}` });
  stores.push(s);
  return s;
}

const url = (i: number) => `http://127.0.0.1:${ports[i]}`;

async function startNode(i: number): Promise<QueryNode> {
  const config = resolveConfig({
    port: ports[i],
    dataDir: join(tmp.dir, `node-${i}`),
    store: `s3://${clusterStore.bucket}/${prefix}`,
    peers: ports.map((_, j) => url(j)).join(','),
    nodeUrl: url(i),
    followMs: 200,
    forwardTimeoutMs: 1000,
    adminKey: ADMIN,
    logLevel: 'silent',
  });
  const node = await buildQueryNode(config, { logger: false });
  await node.app.listen({ port: ports[i], host: '127.0.0.1' });
  nodes[i] = node;
  return node;
}

async function call(port: number | string, path: string, body?: unknown): Promise<{ status: number; node: string | null; body: any }> {
  const r = await fetch(`${typeof port === 'number' ? `http://127.0.0.1:${port}` : port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, node: r.headers.get('x-strata-node'), body: await r.json() };
}

const query = (q: number) => Array.from(queries.subarray(q * DIM, (q + 1) * DIM));

/** Every query of `name` through node `i`: answers equal the embedded index's; returns the nodes that answered. */
async function expectSameAnswers(i: number, name: string): Promise<Set<string>> {
  const answered = new Set<string>();
  for (let q = 0; q < NQ; q++) {
    const r = await call(ports[i], `/v1/collections/${name}/search`, { vector: query(q), k: K });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results.map((h: { id: number }) => h.id), `${name} query ${q} via node ${i}`).toEqual(expected[name][q].ids);
    expect(r.body.results.map((h: { distance: number }) => h.distance)).toEqual(expected[name][q].distances);
    answered.add(r.node!);
  }
  return answered;
}

beforeAll(async () => {
  for (const [c, name] of NAMES.entries()) {
    const dir = join(tmp.dir, name);
    const index = await createIndex(dir, { dimension: DIM, threads: 2 });
    await index.build(mixture(N, DIM, 30 + c));
    await index.close();
    const embedded = await openIndex(dir, { readOnly: true });
    expected[name] = Array.from({ length: NQ }, (_, q) => {
      const r = embedded.search(queries.subarray(q * DIM, (q + 1) * DIM), K);
      return { ids: Array.from(r.ids), distances: Array.from(r.distances) };
    });
    await embedded.close();
    await publishIndex(dir, await store(name));
  }
  ports.push(await freePort(), await freePort());
  await startNode(0);
  await startNode(1);
});
afterAll(async () => {
  for (const n of nodes) await n?.close();
  for (const s of stores) s.close();
  tmp.cleanup();
});

describe('strata serve --store: query nodes on Ceph RGW', () => {
  it('both nodes list both collections and agree on their owners; every query through either node is answered by the owner, equal to the embedded index', async () => {
    const lists = await Promise.all([0, 1].map((i) => call(ports[i], '/v1/collections')));
    for (const l of lists) expect(l.body.collections.map((c: { name: string }) => c.name)).toEqual([...NAMES]);
    expect(lists[0].body.collections.map((c: { owner: string }) => c.owner)).toEqual(lists[1].body.collections.map((c: { owner: string }) => c.owner));
    for (const name of NAMES) {
      const owner = lists[0].body.collections.find((c: { name: string }) => c.name === name).owner;
      for (const i of [0, 1]) expect(await expectSameAnswers(i, name)).toEqual(new Set([owner]));
    }
    // The batch route answers as the single one.
    const batch = await call(ports[0], '/v1/collections/alpha/search/batch', { searches: [0, 1, 2].map((q) => ({ vector: query(q), k: K })) });
    expect(batch.body.results.map((r: Array<{ id: number }>) => r.map((h) => h.id))).toEqual([0, 1, 2].map((q) => expected.alpha[q].ids));
    expect(nodes[0]!.ctx.ring.counts.forwarded + nodes[1]!.ctx.ring.counts.forwarded).toBeGreaterThanOrEqual(NQ);
    // Coded errors, named fields.
    const bad = await call(ports[0], '/v1/collections/alpha/search', { vector: [1, 2], k: K });
    expect([bad.status, bad.body.error.code, bad.body.error.field]).toEqual([400, 'STRATA_DIMENSION_MISMATCH', 'body.vector']);
    const missing = await call(ports[1], '/v1/collections/gamma/search', { vector: query(0), k: K });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'STRATA_COLLECTION_NOT_FOUND']);
    const tenantWrite = await call(ports[0], '/v1/collections/alpha/points', { points: [{ id: 1, vector: query(0), tenant: 'x' }] });
    expect([tenantWrite.status, tenantWrite.body.error.code]).toEqual([400, 'STRATA_INVALID_REQUEST']);
  });

  it('writes through any node are durable when answered and seen by the next read through any node; the indexer folds them into a manifest both nodes follow', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => 900_000 + i);
    for (const [j, id] of ids.entries()) {
      const w = await call(ports[j % 2], '/v1/collections/alpha/points', { points: [{ id, vector: Array.from(vectorOf(id, DIM)) }] });
      expect(w.status, JSON.stringify(w.body)).toBe(200);
      // Read-your-writes: the very next search through the same node (forwarded or not) sees it.
      const r = await call(ports[j % 2], '/v1/collections/alpha/search', { vector: Array.from(vectorOf(id, DIM)), k: 1 });
      expect(r.body.results[0]).toEqual({ id, distance: 0 });
    }
    const del = await call(ports[0], '/v1/collections/alpha/points/delete', { ids: [ids[0]] });
    expect(del.body.accepted).toBe(1);
    const gone = await call(ports[1], '/v1/collections/alpha/search', { vector: Array.from(vectorOf(ids[0], DIM)), k: 1, consistency: 'strong' });
    expect(gone.body.results[0].id).not.toBe(ids[0]);

    const manifest = await applyLog(join(tmp.dir, 'alpha'), await store('alpha'));
    expect(manifest?.version).toBe(2);
    for (const i of [0, 1]) {
      const deadline = Date.now() + 15_000;
      let d = (await call(ports[i], '/v1/collections/alpha')).body;
      while ((d.manifest !== 2 || d.logRows !== 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        d = (await call(ports[i], '/v1/collections/alpha')).body;
      }
      expect([d.manifest, d.appliedLog, d.logRows]).toEqual([2, manifest!.appliedLog, 0]);
    }
    for (const id of ids.slice(1)) {
      const r = await call(ports[1], '/v1/collections/alpha/search', { vector: Array.from(vectorOf(id, DIM)), k: 1, params: { targetRecall: 0.99 } });
      expect(r.body.results[0].id).toBe(id);
    }
  });

  it("with a collection's owner down, the node asked answers itself, the same; the owner restarted on a wiped cache answers cold as it did warm", async () => {
    const owner = nodes[0]!.ctx.ring.ownerOf('beta') === url(0) ? 0 : 1;
    const other = 1 - owner;
    await nodes[owner]!.close();
    nodes[owner] = null;
    const downBefore = nodes[other]!.ctx.ring.counts.ownerDown;
    expect(await expectSameAnswers(other, 'beta')).toEqual(new Set([url(other)]));
    expect(nodes[other]!.ctx.ring.counts.ownerDown - downBefore).toBe(NQ);
    rmSync(join(tmp.dir, `node-${owner}`), { recursive: true, force: true }); // its data folder and cache
    await startNode(owner);
    const cold = await call(ports[owner], '/v1/collections/beta/search', { vector: query(0), k: K });
    expect(cold.body.fetchRounds).toBe(1);
    // The other node passes over the owner for a few seconds after it failed, then forwards to it again.
    const back = Date.now() + 15_000;
    while ((await call(ports[other], '/v1/collections/beta/search', { vector: query(0), k: K })).node !== url(owner) && Date.now() < back) await new Promise((r) => setTimeout(r, 200));
    expect(await expectSameAnswers(other, 'beta')).toEqual(new Set([url(owner)]));
    expect(await expectSameAnswers(owner, 'beta')).toEqual(new Set([url(owner)]));
  });

  it('kill -9 of a `strata serve --store` process right after acknowledgements: every acknowledged write is served by the other nodes', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [STRATA, 'serve', '--store', `s3://${clusterStore.bucket}/${prefix}`, '--port', String(port), '--data-dir', join(tmp.dir, 'writer'), '--parallel-gc', '--log-level', 'warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, STRATA_ADMIN_KEY: ADMIN, NODE_NO_WARNINGS: '1' },
    });
    try {
      const ready = Date.now() + 30_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > ready) throw new Error('the writer node did not get ready in 30 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const acked: number[] = [];
      let next = 950_000;
      const writer = async () => {
        while (acked.length < 150) {
          const ids = [next++, next++];
          const r = await call(port, '/v1/collections/alpha/points', { points: ids.map((id) => ({ id, vector: Array.from(vectorOf(id, DIM)) })) });
          if (r.status !== 200) throw new Error(JSON.stringify(r.body));
          acked.push(...ids);
        }
      };
      await Promise.all([writer(), writer(), writer(), writer()]);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      for (const id of acked) {
        const r = await call(ports[id % 2], '/v1/collections/alpha/search', { vector: Array.from(vectorOf(id, DIM)), k: 1, consistency: 'strong' });
        expect(r.body.results[0], `acknowledged id ${id}`).toEqual({ id, distance: 0 });
      }
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('an OSD killed under mixed load: nothing acknowledged is lost, every answer is unchanged, the cluster is healthy after the OSD restarts', async () => {
    const acked: number[] = [];
    let writeErrors = 0, searches = 0, stop = false, next = 1_000_000;
    const writer = async (i: number) => {
      while (!stop) {
        const id = next++;
        const r = await call(ports[i], '/v1/collections/alpha/points', { points: [{ id, vector: Array.from(vectorOf(id, DIM)) }] }).catch(() => null);
        if (r?.status === 200) acked.push(id);
        else writeErrors++; // not acknowledged: the client knows it may be lost
      }
    };
    const searcher = async (i: number) => {
      for (let q = 0; !stop; q = (q + 1) % NQ) {
        const r = await call(ports[i], '/v1/collections/beta/search', { vector: query(q), k: K });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.results.map((h: { id: number }) => h.id)).toEqual(expected.beta[q].ids);
        searches++;
      }
    };
    const load = Promise.all([writer(0), writer(1), searcher(0), searcher(1)]);
    await new Promise((r) => setTimeout(r, 1500));
    const beforeKill = acked.length;
    cluster('kill-osd', '2');
    await new Promise((r) => setTimeout(r, 4000));
    stop = true;
    const failed = await load.then(() => null, (err: unknown) => err);
    cluster('start-osd', '2');
    if (failed) throw failed;
    expect(acked.length).toBeGreaterThan(beforeKill); // writes went on with an OSD down
    expect(searches).toBeGreaterThan(100);
    for (const id of acked) {
      const r = await call(ports[id % 2], '/v1/collections/alpha/search', { vector: Array.from(vectorOf(id, DIM)), k: 1, consistency: 'strong' });
      expect(r.body.results[0], `acknowledged id ${id}`).toEqual({ id, distance: 0 });
    }
    cluster('wait-healthy');
    console.log(`OSD down under load: ${acked.length} writes acknowledged (${acked.length - beforeKill} after the kill), ${writeErrors} refused, ${searches} searches answered unchanged`);
  });
});
