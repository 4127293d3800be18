import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndex, type SpannIndex } from '../src/index/spann.js';
import { exactSearch, type KnnResult } from '../src/index/exact.js';
import { mixture, recall, tempDir } from './helpers.js';

// The documented setting: 20k × 64 Gaussian mixture, default build options, maxLists = 16.
const N = 20_000, DIM = 64, NQ = 200, K = 10;

describe('SPANN index on a 20k × 64 synthetic set', () => {
  const tmp = tempDir('spann');
  const data = mixture(N, DIM, 101);
  const queries = mixture(NQ, DIM, 202);
  let index: SpannIndex;
  let truth: KnnResult;

  beforeAll(async () => {
    index = await createIndex(tmp.dir, { dimension: DIM, seed: 5 });
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

  it('heads are about 8% of the points (the default headRatio) and lists respect the cap', () => {
    const s = index.stats();
    expect(s.heads / N).toBeGreaterThan(0.072);
    expect(s.heads / N).toBeLessThan(0.085);
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
