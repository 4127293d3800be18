import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore, type S3StoreOptions } from '../../src/storage/object-store.js';
import { createRng } from '../../src/util/random.js';
import { cluster, clusterStore, endpoints } from './cluster-env.js';

// Against the loopback Ceph cluster (scripts/ceph-cluster.sh: 3 OSDs, 2 RADOS gateways), whose S3
// settings `npm run test:cluster` puts in the environment.
const base: S3StoreOptions = clusterStore;
/** A prefix of its own per run: runs never see each other's objects. */
const run = `test-${Date.now().toString(36)}`;

const stores: S3ObjectStore[] = [];
async function open(options: Partial<S3StoreOptions> = {}): Promise<S3ObjectStore> {
  const s = await S3ObjectStore.open({ ...base, prefix: run, ...options });
  stores.push(s);
  return s;
}

beforeAll(() => {
  if (endpoints.length < 2) throw new Error('run with `npm run test:cluster` (needs STRATA_S3_ENDPOINTS with the two gateways)');
});
afterAll(() => {
  for (const s of stores) s.close();
});

describe('S3 object store on Ceph RGW', () => {
  it('create is exclusive across gateways: of 16 racing creates of one key, exactly one wins and its bytes stay', async () => {
    const viaA = await open({ endpoints: [endpoints[0]] });
    const viaB = await open({ endpoints: [endpoints[1]] });
    for (let round = 0; round < 3; round++) {
      const key = `race/${round}`;
      const bodies = Array.from({ length: 16 }, (_, i) => new TextEncoder().encode(`writer ${i} round ${round}`));
      const won = await Promise.all(bodies.map((b, i) => (i % 2 === 0 ? viaA : viaB).create(key, b)));
      expect(won.filter(Boolean).length).toBe(1);
      const winner = won.indexOf(true);
      expect(new TextDecoder().decode(await viaA.get(key))).toBe(`writer ${winner} round ${round}`);
      expect(new TextDecoder().decode(await viaB.get(key))).toBe(`writer ${winner} round ${round}`);
      expect(await viaB.create(key, bodies[0])).toBe(false); // and later creates lose too
    }
  });

  it('round-trips bytes: get, getMany in order (absent keys undefined), list by prefix in key order, delete', async () => {
    const s = await open();
    const rng = createRng(7);
    const keys = Array.from({ length: 40 }, (_, i) => `lists/${String(i).padStart(4, '0')}`);
    const bodies = keys.map(() => Uint8Array.from({ length: 1 + rng.int(70_000) }, () => rng.int(256)));
    await Promise.all(keys.map((k, i) => s.create(k, bodies[i])));
    const got = await s.getMany([...keys, 'lists/absent']);
    for (let i = 0; i < keys.length; i++) expect(Buffer.compare(Buffer.from(got[i]!), Buffer.from(bodies[i]))).toBe(0);
    expect(got[keys.length]).toBeUndefined();
    expect(await s.get('nothing/here')).toBeUndefined();
    expect(await s.list('lists/')).toEqual(keys);
    expect(await s.list('lists/', { startAfter: keys[29], limit: 5 })).toEqual(keys.slice(30, 35));
    await s.put('hint', new Uint8Array([1]));
    await s.put('hint', new Uint8Array([2]));
    expect(Array.from((await s.get('hint'))!)).toEqual([2]);
    await s.delete(keys.slice(0, 10));
    expect(await s.list('lists/')).toEqual(keys.slice(10));
    expect(s.stats.gets).toBeGreaterThanOrEqual(42);
    expect(s.stats.bytesIn).toBeGreaterThan(0);
  });

  it('a killed gateway: requests go to the other endpoint; with none left the error is coded', async () => {
    const s = await open();
    await s.create('failover/a', new Uint8Array([1, 2, 3]));
    cluster('kill-rgw', '0');
    try {
      const t = Date.now();
      for (let i = 0; i < 5; i++) expect(Array.from((await s.get('failover/a'))!)).toEqual([1, 2, 3]);
      expect(await s.create('failover/b', new Uint8Array([4]))).toBe(true);
      expect(Date.now() - t).toBeLessThan(10_000);
      const onlyDead = await S3ObjectStore.open({ ...base, prefix: run, endpoints: [endpoints[0]] }).catch((e) => e);
      expect(onlyDead).toMatchObject({ code: 'STRATA_STORE_UNAVAILABLE', field: 'endpoints' });
    } finally {
      cluster('start-rgw', '0');
    }
    expect(s.stats.failovers).toBeGreaterThan(0);
    expect(Array.from((await s.get('failover/b'))!)).toEqual([4]);
  });

  it('refuses wrong credentials and a missing bucket (when not asked to create it) with coded errors', async () => {
    await expect(S3ObjectStore.open({ ...base, secretAccessKey: 'wrong' })).rejects.toMatchObject({ code: 'STRATA_STORE_ERROR' });
    await expect(S3ObjectStore.open({ ...base, bucket: `missing-${run}`, createBucket: false })).rejects.toMatchObject({ code: 'STRATA_STORE_ERROR' });
    await expect(S3ObjectStore.open({ ...base, endpoints: ['ftp://x'] })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'endpoints' });
  });
});
