import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectIndex, publishIndex } from '../../src/index/object-index.js';
import { createIndex, openIndex, type SearchOptions, type SpannIndex } from '../../src/index/spann.js';
import { S3ObjectStore, type S3StoreOptions } from '../../src/storage/object-store.js';
import { mixture, tempDir } from '../helpers.js';
import { cluster, clusterStore } from './cluster-env.js';

// An index published to the loopback Ceph cluster and served by stateless query nodes: every answer
// equals the embedded index's, cold, warm, after a cache wipe and with an OSD down.
const base: S3StoreOptions = clusterStore;
const DIM = 24, N = 6000, NQ = 40, K = 10;
const tmp = tempDir('object-index');
const dir = join(tmp.dir, 'embedded');
const prefix = `index-${Date.now().toString(36)}`;
const queries = mixture(NQ, DIM, 12);
const stores: S3ObjectStore[] = [];
let embedded: SpannIndex;
/** Objects the first publish uploaded (all of them). */
let firstUploads = 0;

async function store(): Promise<S3ObjectStore> {
  const s = await S3ObjectStore.open({ ...base, prefix });
  stores.push(s);
  return s;
}

/** The searches every node must answer as the embedded index does: unscoped, by tenant, filtered. */
const cases: Array<[string, SearchOptions]> = [
  ['unscoped', {}],
  ['targetRecall 0.99', { targetRecall: 0.99 }],
  ['tenant', { tenant: 't1' }],
  ['filter', { filter: { color: 'red' } }],
];

async function expectSameAnswers(node: ObjectIndex): Promise<number> {
  let rounds = 0;
  for (const [name, options] of cases) {
    for (let q = 0; q < NQ; q++) {
      const query = queries.subarray(q * DIM, (q + 1) * DIM);
      const want = embedded.search(query, K, options);
      const got = await node.search(query, K, options);
      expect(Array.from(got.ids), `${name} query ${q}`).toEqual(Array.from(want.ids));
      expect(Array.from(got.distances), `${name} query ${q}`).toEqual(Array.from(want.distances));
      rounds = Math.max(rounds, name === 'unscoped' ? got.fetchRounds : 0);
    }
  }
  return rounds;
}

beforeAll(async () => {
  const index = await createIndex(dir, { dimension: DIM, threads: 2 });
  const data = mixture(N, DIM, 11);
  const tenants = Array.from({ length: N }, (_, i) => `t${i % 5}`);
  await index.build(data, undefined, { tenants, attributes: Array.from({ length: N }, (_, i) => ({ color: i % 7 === 0 ? 'red' : 'blue' })) });
  // Live inserts after the build: their lists carry appends, which publishing folds in.
  await index.insert(mixture(200, DIM, 13), Uint32Array.from({ length: 200 }, (_, i) => 100_000 + i), { tenants: 't1' });
  await index.close();
  embedded = await openIndex(dir);
});
afterAll(async () => {
  await embedded?.close();
  for (const s of stores) s.close();
  tmp.cleanup();
});

describe('an index on Ceph RGW, served by stateless query nodes', () => {
  it('a node answers every query exactly as the embedded index, cold in one fetch round, then warm from its cache', async () => {
    const manifest = await publishIndex(dir, await store());
    expect(manifest.version).toBe(1);
    expect(manifest.reused).toBe(0);
    firstUploads = manifest.objects;
    const node = await ObjectIndex.open({ store: await store(), cacheDir: join(tmp.dir, 'node-a') });
    try {
      expect(await expectSameAnswers(node)).toBeLessThanOrEqual(1); // cold unscoped queries: one round of GETs
      const before = node.cacheStats.fetchRounds;
      expect(await expectSameAnswers(node)).toBe(0); // warm: nothing fetched
      expect(node.cacheStats.fetchRounds).toBe(before);
    } finally {
      await node.close();
    }
  });

  it('a wiped cache answers the same, and a cache smaller than the index evicts and still answers the same', async () => {
    const node = await ObjectIndex.open({ store: await store(), cacheDir: join(tmp.dir, 'node-b'), cacheBytes: 256 * 1024 });
    try {
      await expectSameAnswers(node);
      expect(node.cacheStats.evicted).toBeGreaterThan(0);
      expect(node.cacheStats.bytes).toBeLessThanOrEqual(256 * 1024 + 200 * 1024); // the bound, plus what the last query needed
    } finally {
      await node.close();
    }
  });

  it('two publishers racing for the next manifest: exactly one wins, the other gets STRATA_STORE_CONFLICT', async () => {
    const results = await Promise.allSettled([publishIndex(dir, await store()), publishIndex(dir, await store())]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(won.length).toBe(1);
    expect(lost.length).toBe(1);
    expect(lost[0].reason).toMatchObject({ code: 'STRATA_STORE_CONFLICT' });
    const node = await ObjectIndex.open({ store: await store(), cacheDir: join(tmp.dir, 'node-c') });
    try {
      expect(node.manifest.version).toBe(2);
      await expectSameAnswers(node);
    } finally {
      await node.close();
    }
  });

  it('a node follows a newer publish: only changed lists are uploaded and fetched again, answers equal the updated index', async () => {
    const node = await ObjectIndex.open({ store: await store(), cacheDir: join(tmp.dir, 'node-follow') });
    try {
      await expectSameAnswers(node); // the cache holds manifest 2's objects
      expect(await node.follow()).toBe(false); // nothing newer yet
      // Writes to the embedded index, then the next publish.
      await embedded.insert(mixture(20, DIM, 21), Uint32Array.from({ length: 20 }, (_, i) => 200_000 + i), { tenants: 't1' });
      await embedded.delete(Array.from({ length: 30 }, (_, i) => i * 7));
      await embedded.flush();
      await embedded.close();
      embedded = await openIndex(dir); // saves the graph file for the publish
      const m = await publishIndex(dir, await store());
      expect(m.version).toBe(3);
      expect(m.reused).toBeGreaterThan(0); // lists and blocks that did not change are named again
      expect(m.objects).toBeLessThan(firstUploads / 2);
      const fetchedBefore = node.cacheStats.fetchedObjects;
      expect(await node.follow()).toBe(true);
      expect(node.manifest.version).toBe(3);
      await expectSameAnswers(node);
      const lists = Number(embedded.stats().heads);
      expect(node.cacheStats.fetchedObjects - fetchedBefore).toBeLessThan(lists); // unchanged lists came from the cache
    } finally {
      await node.close();
    }
  });

  it('with one OSD killed, a cold node answers the same; the OSD rejoins and the cluster is healthy again', async () => {
    cluster('kill-osd', '1');
    try {
      const node = await ObjectIndex.open({ store: await store(), cacheDir: join(tmp.dir, 'node-d') });
      try {
        await expectSameAnswers(node);
      } finally {
        await node.close();
      }
    } finally {
      cluster('start-osd', '1');
    }
    cluster('wait-healthy');
  });
});
