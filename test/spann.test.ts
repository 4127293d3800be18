import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndex, type SpannIndex } from '../src/index/spann.js';
import { exactSearch, type KnnResult } from '../src/index/exact.js';
import { mixture, recall, tempDir } from './helpers.js';

// The documented setting: 20k × 64 Gaussian mixture, default build options, maxLists = 16.
const N = 20_000, DIM = 64, NQ = 200, K = 10;

// The same suite on both posting-list backends (storage/posting-store.ts): LMDB, and lists in memory.
describe.each(['lmdb', 'memory'] as const)('SPANN index on a 20k × 64 synthetic set (%s posting lists)', (postings) => {
  const tmp = tempDir('spann');
  const data = mixture(N, DIM, 101);
  const queries = mixture(NQ, DIM, 202);
  let index: SpannIndex;
  let truth: KnnResult;

  beforeAll(async () => {
    index = await createIndex(tmp.dir, { dimension: DIM, seed: 5, postings });
    await index.build(data);
    truth = await exactSearch(data, queries, DIM, K, { threads: 1 });
  });
  afterAll(async () => {
    await index.close();
    tmp.cleanup();
  });

  function recallAt(params: { maxLists: number; eps2?: number }): { recall: number; scanned: number } {
    const got = new Uint32Array(NQ * K).fill(0xffffffff);
    let scanned = 0;
    for (let q = 0; q < NQ; q++) {
      const r = index.search(queries.subarray(q * DIM, (q + 1) * DIM), K, params);
      got.set(r.ids, q * K);
      scanned += r.stats.vectorsScanned;
    }
    return { recall: recall(got, truth.ids, K, NQ), scanned: scanned / NQ };
  }

  it('reaches recall@10 >= 0.95 against exact search at maxLists = 16', () => {
    expect(recallAt({ maxLists: 16 }).recall).toBeGreaterThanOrEqual(0.95);
  });

  it('heads are about 3% of the points (the default headRatio) and lists respect the cap', () => {
    const s = index.stats();
    expect(s.heads / N).toBeGreaterThan(0.027);
    expect(s.heads / N).toBeLessThan(0.032);
    expect(s.longestList).toBeLessThanOrEqual(s.postingLimit);
    expect(s.replicasPerVector).toBeGreaterThanOrEqual(1);
    expect(s.replicasPerVector).toBeLessThanOrEqual(8);
  });

  it('more probes never lower recall (sweep over maxLists, pruning off)', () => {
    let prev = -1;
    let prevScanned = -1;
    for (const maxLists of [1, 2, 4, 8, 16, 32, 64]) {
      const r = recallAt({ maxLists, eps2: 1000 });
      expect(r.recall).toBeGreaterThanOrEqual(prev);
      expect(r.scanned).toBeGreaterThanOrEqual(prevScanned);
      prev = r.recall;
      prevScanned = r.scanned;
    }
  });

  it('query-aware pruning reads fewer lists as eps2 shrinks', () => {
    const wide = recallAt({ maxLists: 64, eps2: 1000 }).scanned;
    const narrow = recallAt({ maxLists: 64, eps2: 0.2 }).scanned;
    expect(narrow).toBeLessThan(wide);
  });

  it('batch search on worker threads returns what single search returns', async () => {
    const batch = await index.searchBatch(queries, K, { maxLists: 8 });
    for (let q = 0; q < NQ; q++) {
      const one = index.search(queries.subarray(q * DIM, (q + 1) * DIM), K, { maxLists: 8 });
      expect(Array.from(batch.ids.subarray(q * K, q * K + one.ids.length))).toEqual(Array.from(one.ids));
    }
    expect(batch.stats.listsProbed).toBeGreaterThan(0);
  });

  it('bypassIndex returns the exact answer, and results carry per-query stats', () => {
    for (let q = 0; q < 20; q++) {
      const r = index.search(queries.subarray(q * DIM, (q + 1) * DIM), K, { bypassIndex: true });
      expect(Array.from(r.ids)).toEqual(Array.from(truth.ids.subarray(q * K, q * K + K)));
      expect(r.stats.listsProbed).toBe(index.stats().heads);
    }
    const r = index.search(queries.subarray(0, DIM), K);
    expect(r.stats.listsProbed).toBeGreaterThan(0);
    expect(r.stats.vectorsScanned).toBeGreaterThan(0);
    expect(r.stats.bytesRead).toBeGreaterThan(r.stats.vectorsScanned * DIM * 4);
  });

  it('returns distances in ascending order and never the same id twice', () => {
    for (let q = 0; q < NQ; q++) {
      const r = index.search(queries.subarray(q * DIM, (q + 1) * DIM), 50, { maxLists: 32 });
      expect(new Set(r.ids).size).toBe(r.ids.length);
      for (let i = 1; i < r.distances.length; i++) expect(r.distances[i]).toBeGreaterThanOrEqual(r.distances[i - 1]);
    }
  });

  it('live writes land in the lists (and a failed write changes none of them)', async () => {
    const extra = mixture(300, DIM, 303);
    const ids = Array.from({ length: 300 }, (_, i) => 1_000_000 + i);
    expect(await index.insert(extra, ids)).toMatchObject({ inserted: 300 });
    for (let i = 0; i < 300; i += 37) expect(index.search(extra.subarray(i * DIM, (i + 1) * DIM), 1, { maxLists: 64 }).ids[0]).toBe(ids[i]);
    const before = index.search(extra.subarray(0, DIM), 5, { maxLists: 64 });
    await expect(index.insert(extra.subarray(0, 2 * DIM), [ids[0], 7])).rejects.toMatchObject({ code: 'STRATA_ID_EXISTS' });
    expect(index.search(extra.subarray(0, DIM), 5, { maxLists: 64 })).toMatchObject({ ids: before.ids, distances: before.distances });
    expect(await index.delete(ids)).toMatchObject({ deleted: 300 });
    expect(index.health().problems).toEqual([]);
  });
});

describe('memory posting lists', () => {
  it('join the write transaction: a rollback puts back every list the transaction changed', async () => {
    const { MemoryPostingStore } = await import('../src/storage/posting-store.js');
    const m = new MemoryPostingStore();
    m.put('list', 1, Uint8Array.of(1));
    m.begin();
    m.put('list', 1, Uint8Array.of(2));
    m.put('appends', 1, Uint8Array.of(3));
    m.begin(); // nested: the outermost transaction decides
    m.delete('list', 1);
    m.commit();
    expect(m.get('list', 1)).toBeUndefined();
    m.rollback();
    expect(Array.from(m.get('list', 1) ?? [])).toEqual([1]);
    expect(m.get('appends', 1)).toBeUndefined();
    m.begin();
    m.put('list', 2, Uint8Array.of(4));
    m.commit();
    expect(m.getMany('list', [1, 2, 3]).map((v) => (v ? Array.from(v) : null))).toEqual([[1], [4], null]);
  });

  it('hold the slot blocks too: the exact, cells and probe plans of a tenant answer as on LMDB', async () => {
    const { dir: a, cleanup: ca } = tempDir('blocks-lmdb');
    const { dir: b, cleanup: cb } = tempDir('blocks-memory');
    try {
      const data = mixture(3000, 16, 21);
      const tenants = Array.from({ length: 3000 }, (_, i) => (i % 10 === 0 ? 'small' : 'big'));
      const onDisk = await createIndex(a, { dimension: 16, threads: 1, seed: 3 });
      const inMemory = await createIndex(b, { dimension: 16, threads: 1, seed: 3, postings: 'memory' });
      for (const index of [onDisk, inMemory]) await index.build(data, undefined, { tenants });
      for (const plan of ['exact', 'cells', 'probe'] as const) {
        for (let q = 0; q < 20; q++) {
          const v = data.subarray(q * 16, (q + 1) * 16);
          const x = onDisk.search(v, 5, { tenant: 'small', plan });
          expect(inMemory.search(v, 5, { tenant: 'small', plan })).toMatchObject({ ids: x.ids, distances: x.distances });
        }
      }
      await onDisk.close();
      await inMemory.close();
    } finally {
      ca();
      cb();
    }
  });

  it('live only in the handle that built them: reopening is refused, not answered from empty lists', async () => {
    const { openIndex } = await import('../src/index/spann.js');
    const { dir, cleanup } = tempDir('memory-postings');
    try {
      const index = await createIndex(dir, { dimension: 8, postings: 'memory' });
      await index.build(mixture(500, 8, 9));
      expect(index.search(mixture(1, 8, 9), 1).ids[0]).toBe(0);
      await index.close();
      await expect(openIndex(dir, { postings: 'memory' })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'postings' });
    } finally {
      cleanup();
    }
  });
});

describe('metrics and ids', () => {
  it('cosine and inner-product indexes agree with exact search; external ids are returned', async () => {
    for (const metric of ['cosine', 'ip'] as const) {
      const tmp = tempDir(metric);
      const dim = 16;
      const data = mixture(3000, dim, 7);
      const ids = Uint32Array.from({ length: 3000 }, (_, i) => 1_000_000 + i * 3);
      const index = await createIndex(tmp.dir, { dimension: dim, metric });
      await index.build(data, ids);
      const q = mixture(30, dim, 8);
      const truth = await exactSearch(data, q, dim, 10, { metric, labels: ids });
      const got = new Uint32Array(300).fill(0xffffffff);
      for (let i = 0; i < 30; i++) got.set(index.search(q.subarray(i * dim, (i + 1) * dim), 10, { maxLists: 64, eps2: 1000 }).ids, i * 10);
      expect(recall(got, truth.ids, 10, 30)).toBeGreaterThanOrEqual(0.95);
      for (const id of got) expect(id >= 1_000_000 || id === 0xffffffff).toBe(true);
      await index.close();
      tmp.cleanup();
    }
  });
});
