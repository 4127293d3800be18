import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createIndex, openIndex, type SpannIndex } from '../src/index/spann.js';
import { exactSearch } from '../src/index/exact.js';
import { budgetFor } from '../src/index/calibration.js';
import { DEFAULT_ANISO, writeAnisoFbin } from '../src/datasets/synthetic-aniso.js';
import { readFloatVectors } from '../src/storage/vector-files.js';
import { mixture, recall, tempDir } from './helpers.js';

// Hard data (anisotropic mixture, neighbours spread over many lists), small enough for a test.
const N = 8000, DIM = 32, NQ = 300, K = 10;

describe('recall as the knob: the calibration curve and targetRecall', () => {
  const tmp = tempDir('calibration');
  let base: Float32Array;
  let queries: Float32Array;
  let truth: Uint32Array;
  let index: SpannIndex;

  beforeAll(async () => {
    const o = { ...DEFAULT_ANISO, n: N, dim: DIM };
    writeAnisoFbin(join(tmp.dir, 'base.fbin'), o, N, 1);
    writeAnisoFbin(join(tmp.dir, 'query.fbin'), o, NQ, 2);
    base = readFloatVectors(join(tmp.dir, 'base.fbin')).data;
    queries = readFloatVectors(join(tmp.dir, 'query.fbin')).data;
    truth = (await exactSearch(base, queries, DIM, K, { threads: 1 })).ids;
    index = await createIndex(join(tmp.dir, 'idx'), { dimension: DIM, seed: 3, calibrationQueries: 300 });
    await index.build(base);
  }, 120_000);
  afterAll(async () => {
    await index.close();
    tmp.cleanup();
  });

  function heldOutRecall(params: Record<string, number>): number {
    const got = new Uint32Array(NQ * K).fill(0xffffffff);
    for (let q = 0; q < NQ; q++) got.set(index.search(queries.subarray(q * DIM, (q + 1) * DIM), K, params).ids, q * K);
    return recall(got, truth, K, NQ);
  }

  it('a build measures recall@10 against the budget: never lower with more lists, up to 0.995 or every list', () => {
    const curve = index.recallCurve()!;
    expect(curve.k).toBe(10);
    expect(curve.queries).toBe(300);
    const r = curve.points.map((p) => p.recall);
    for (let i = 1; i < r.length; i++) expect(r[i]).toBeGreaterThanOrEqual(r[i - 1]);
    expect(r[0]).toBeLessThan(0.9); // hard data: one list is far from enough
    const last = curve.points[curve.points.length - 1];
    expect(last.recall >= 0.995 || last.maxLists >= index.stats().heads).toBe(true);
  });

  it('targetRecall lands within 2 points above the target on held-out queries, and its budget grows with the target', () => {
    let previous = 0;
    for (const target of [0.9, 0.95, 0.99]) {
      const lists = index.budgetFor(target);
      expect(lists).toBeGreaterThanOrEqual(previous);
      previous = lists;
      const got = heldOutRecall({ targetRecall: target });
      expect(got).toBeGreaterThanOrEqual(target - 0.01); // 300 held-out queries: ~0.005 of sampling error
      expect(got).toBeLessThanOrEqual(Math.min(1, target + 0.03));
    }
  });

  it('the default search (no params) is the 0.95 budget: a fractional budget is its floor or ceiling per query, the ceiling for that share of queries, always the same for one query', () => {
    const budget = index.budgetFor(0.95);
    expect(budget % 1).toBeGreaterThan(0.05); // this seed's curve puts 0.95 between two measured budgets
    let lists = 0;
    for (let i = 0; i < NQ; i++) {
      const q = queries.subarray(i * DIM, (i + 1) * DIM);
      const byDefault = index.search(q, K);
      const read = byDefault.stats.listsProbed;
      expect([Math.floor(budget), Math.ceil(budget)]).toContain(read);
      lists += read;
      const explicit = index.search(q, K, { maxLists: read, eps2: 1000 });
      expect(index.search(q, K).stats.listsProbed).toBe(read); // the same query, the same lists
      if (explicit.stats.listsProbed === read) expect(Array.from(byDefault.ids)).toEqual(Array.from(explicit.ids));
    }
    expect(Math.abs(lists / NQ - budget)).toBeLessThan(0.08); // 300 queries: ±0.06 of sampling error at most
  });

  it('a targetRecall beside a maxLists, or outside (0, 1], is refused naming targetRecall', () => {
    const q = queries.subarray(0, DIM);
    for (const bad of [{ targetRecall: 0.9, maxLists: 8 }, { targetRecall: 0 }, { targetRecall: 1.5 }, { targetRecall: Number.NaN }]) {
      expect(() => index.search(q, K, bad)).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'targetRecall' }));
    }
  });

  it('the curve survives a reopen unchanged', async () => {
    const before = index.recallCurve();
    await index.close();
    index = await openIndex(join(tmp.dir, 'idx'));
    expect(index.recallCurve()).toEqual(before);
    expect(index.budgetFor(0.95)).toBe(budgetFor({ maxLists: before!.points.map((p) => p.maxLists), recall: before!.points.map((p) => p.recall) }, 0.95));
  });

  it('a stored vector searched for its neighbours reads more than its own list when it is a head (the pruning bound uses the second head)', async () => {
    // Every base vector as a query, leave-one-out recall@10 at the default budget: heads included.
    const n = 400;
    const self = await exactSearch(base, base.subarray(0, n * DIM), DIM, K + 1, { threads: 1 });
    let hits = 0, minLists = Infinity;
    for (let q = 0; q < n; q++) {
      const r = index.search(base.subarray(q * DIM, (q + 1) * DIM), K + 1);
      minLists = Math.min(minLists, r.stats.listsProbed);
      const want = new Set(Array.from(self.ids.subarray(q * (K + 1), (q + 1) * (K + 1))));
      for (const id of r.ids) if (id !== q && want.has(id)) hits++;
    }
    expect(minLists).toBeGreaterThan(1);
    expect(hits / (n * K)).toBeGreaterThanOrEqual(0.93);
  });

  it('compaction after deletes measures the curve again on the live part of the sample; tune with exact truth after inserts', async () => {
    const v0 = index.recallCurve()!.version;
    await index.delete(Array.from({ length: 800 }, (_, i) => i * 10));
    await index.compact();
    const after = index.recallCurve()!;
    expect(after.version).toBeGreaterThan(v0);
    expect(after.queries).toBeLessThan(300); // sample vectors that were deleted are not scored
    await index.insert(mixture(200, DIM, 9, 10, 0.5), Array.from({ length: 200 }, (_, i) => 100_000 + i));
    const tuned = await index.calibrate({ exactTruth: true });
    expect(tuned.version).toBeGreaterThan(after.version);
    expect(tuned.points[tuned.points.length - 1].recall).toBeGreaterThan(0.95);
  });
});

describe('an index too small to calibrate', () => {
  it('has no curve and searches with the fixed default budget (32 lists)', async () => {
    const tmp = tempDir('calibration-small');
    const index = await createIndex(tmp.dir, { dimension: 8 });
    try {
      await index.build(mixture(150, 8, 1, 5));
      expect(index.recallCurve()).toBeNull();
      expect(index.budgetFor(0.99)).toBe(32);
      await expect(index.calibrate()).rejects.toMatchObject({ code: 'STRATA_NOT_CALIBRATED' });
    } finally {
      await index.close();
      tmp.cleanup();
    }
  });
});
