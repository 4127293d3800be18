import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createIndex, openIndex, type SpannIndex } from '../src/index/spann.js';
import type { Attributes, Filter } from '../src/index/filter.js';
import { l2Squared } from '../src/index/distance.js';
import { createRng } from '../src/util/random.js';
import { mixture, tempDir } from './helpers.js';

const DIM = 16, K = 10;

/** Reference semantics of a filter, written against the JSON directly (not the parser). */
function matches(f: Filter, a: Attributes | undefined): boolean {
  return Object.entries(f).every(([key, cond]) => {
    if (key === '$and') return (cond as Filter[]).every((g) => matches(g, a));
    if (key === '$or') return (cond as Filter[]).some((g) => matches(g, a));
    if (key === '$not') return !matches(cond as Filter, a);
    const v = a?.[key];
    const eq = (x: unknown) => (Array.isArray(v) ? v.includes(x as string) : v === x);
    if (typeof cond !== 'object') return eq(cond);
    return Object.entries(cond as Record<string, unknown>).every(([op, x]) => {
      switch (op) {
        case '$eq': return eq(x);
        case '$ne': return !eq(x);
        case '$in': return (x as unknown[]).some(eq);
        case '$nin': return !(x as unknown[]).some(eq);
        case '$gt': return typeof v === 'number' && v > (x as number);
        case '$gte': return typeof v === 'number' && v >= (x as number);
        case '$lt': return typeof v === 'number' && v < (x as number);
        case '$lte': return typeof v === 'number' && v <= (x as number);
      }
      throw new Error(op);
    });
  });
}

/** Exact k nearest external ids among the rows where `allow(row)`. */
function bruteForce(data: Float32Array, ids: Uint32Array, q: Float32Array, k: number, allow: (row: number) => boolean): number[] {
  const n = data.length / DIM;
  const scored: Array<[number, number]> = [];
  for (let r = 0; r < n; r++) if (allow(r)) scored.push([l2Squared(q, 0, data, r * DIM, DIM), ids[r]]);
  scored.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return scored.slice(0, k).map((s) => s[1]);
}

const COLORS = ['red', 'green', 'blue', 'black'];
const TAGS = ['a', 'b', 'c', 'd', 'e'];

function makeAttributes(n: number, seed: number): Attributes[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, r) => {
    const a: Attributes = { color: COLORS[rng.int(COLORS.length)], year: 1990 + rng.int(30), rank: r };
    if (rng.next() < 0.5) a.tags = TAGS.filter(() => rng.next() < 0.4);
    if (rng.next() < 0.7) a.flag = rng.next() < 0.5;
    return a;
  });
}

/** Zipf-like tenant sizes: tenant i gets weight 1/(i+1). */
function zipfTenants(n: number, tenants: number, seed: number): string[] {
  const rng = createRng(seed);
  const w = Array.from({ length: tenants }, (_, i) => 1 / (i + 1));
  const total = w.reduce((x, y) => x + y, 0);
  return Array.from({ length: n }, () => {
    let u = rng.next() * total;
    for (let i = 0; i < tenants; i++) if ((u -= w[i]) <= 0) return `t${i}`;
    return `t${tenants - 1}`;
  });
}

describe('multi-tenant, filtered search on one shared index', () => {
  const N = 6000;
  const tmp = tempDir('tenancy');
  const data = mixture(N, DIM, 31);
  const queries = mixture(40, DIM, 32);
  // External ids that are not the row numbers, so a slot/id mix-up cannot pass.
  const ids = Uint32Array.from({ length: N }, (_, r) => 1_000_000 + r * 7);
  const tenants = zipfTenants(N, 20, 33);
  const attrs = makeAttributes(N, 34);
  const rowOfId = new Map([...ids].map((id, r) => [id, r]));
  let index: SpannIndex;

  beforeAll(async () => {
    index = await createIndex(tmp.dir, { dimension: DIM, seed: 3 });
    await index.build(data, ids, { tenants, attributes: attrs });
  });
  afterAll(async () => {
    await index.close();
    tmp.cleanup();
  });

  function recallFor(tenant: string | undefined, filter: Filter | undefined, extra: object = {}): { recall: number; plans: Set<string> } {
    let hits = 0, total = 0;
    const plans = new Set<string>();
    for (let qi = 0; qi < 40; qi++) {
      const q = queries.subarray(qi * DIM, (qi + 1) * DIM);
      const want = bruteForce(data, ids, q, K, (r) => (tenant === undefined || tenants[r] === tenant) && (!filter || matches(filter, attrs[r])));
      const r = index.search(q, K, { tenant, filter, maxLists: 16, ...extra });
      plans.add(r.plan);
      expect(r.ids.length).toBe(Math.min(K, want.length));
      const got = new Set(r.ids);
      hits += want.filter((id) => got.has(id)).length;
      total += want.length;
    }
    return { recall: total === 0 ? 1 : hits / total, plans };
  }

  it('lists tenants with their counts, and the counts add up', () => {
    const list = index.listTenants();
    expect(list.length).toBe(20);
    expect(list.reduce((s, t) => s + t.count, 0)).toBe(N);
    for (const t of list) expect(t.count).toBe(tenants.filter((x) => x === t.name).length);
    expect(index.stats().attributes).toEqual({ color: 'keyword', flag: 'boolean', rank: 'number', tags: 'keyword', year: 'number' });
  });

  it('tenant-scoped search matches exact search over that tenant, on every plan (recall >= 0.95)', () => {
    for (const t of ['t0', 't3', 't15']) {
      for (const plan of ['probe', 'cells'] as const) {
        const r = recallFor(t, undefined, { plan });
        expect(r.plans).toEqual(new Set([plan]));
        expect(r.recall, `${t} ${plan}`).toBeGreaterThanOrEqual(0.95);
      }
      const exact = recallFor(t, undefined, { plan: 'exact' });
      expect(exact.plans).toEqual(new Set(['exact']));
      expect(exact.recall).toBe(1);
    }
  });

  it('the cells plan reads the nearest cells of the tenant, and more lists never lower its recall', () => {
    let prev = 0;
    for (const maxLists of [1, 2, 4, 8, 16, 64]) {
      const r = recallFor('t0', undefined, { plan: 'cells', maxLists });
      expect(r.recall).toBeGreaterThanOrEqual(prev);
      prev = r.recall;
    }
    expect(prev).toBe(1);
  });

  it('a tenant on the shared index finds what an index built from that tenant alone finds', async () => {
    const t = 't2';
    const rows = [...tenants.keys()].filter((r) => tenants[r] === t);
    const own = new Float32Array(rows.length * DIM);
    rows.forEach((r, i) => own.set(data.subarray(r * DIM, (r + 1) * DIM), i * DIM));
    const sep = tempDir('tenant-alone');
    const alone = await createIndex(sep.dir, { dimension: DIM, seed: 3 });
    try {
      await alone.build(own, Uint32Array.from(rows, (r) => ids[r]));
      let agree = 0;
      for (let qi = 0; qi < 40; qi++) {
        const q = queries.subarray(qi * DIM, (qi + 1) * DIM);
        const shared = new Set(index.search(q, K, { tenant: t, maxLists: 16, plan: 'probe' }).ids);
        for (const id of alone.search(q, K, { maxLists: 16 }).ids) if (shared.has(id)) agree++;
      }
      expect(agree / (40 * K)).toBeGreaterThanOrEqual(0.95);
    } finally {
      await alone.close();
      sep.cleanup();
    }
  });

  it('tenant + filter search matches exact search over the filtered tenant (random filters, seeded)', () => {
    const filters: Filter[] = [
      { color: 'red' },
      { year: { $gte: 2000, $lt: 2010 } },
      { $or: [{ color: 'blue' }, { tags: 'a' }] },
      { $not: { color: { $in: ['red', 'green'] } } },
      { flag: true, year: { $gt: 1995 } },
      { tags: { $nin: ['a', 'b'] }, color: { $ne: 'black' } },
    ];
    for (const f of filters) {
      for (const t of ['t0', 't2']) {
        expect(recallFor(t, f, { plan: 'probe' }).recall).toBeGreaterThanOrEqual(0.95);
        expect(recallFor(t, f, { plan: 'cells' }).recall).toBeGreaterThanOrEqual(0.95);
        expect(recallFor(t, f, { plan: 'exact' }).recall).toBe(1);
      }
      expect(recallFor(undefined, f).recall).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('returns k results whenever k match, at 1% and 0.1% selectivity, on every plan', () => {
    for (const filter of [{ rank: { $lt: N / 100 } }, { rank: { $gte: N - N / 1000 } }] as Filter[]) {
      // recallFor asserts min(k, matches) results for every query; recall is checked too (a probe
      // reading a single list's worth of entries is allowed to be rougher).
      for (const extra of [{}, { exactScanMax: 1 }, { exactScanMax: 1, maxLists: 1 }]) {
        const r = recallFor(undefined, filter, extra);
        expect(r.recall).toBeGreaterThanOrEqual('maxLists' in extra ? 0.85 : 0.95);
      }
    }
    // 0.1% of 6000 = 6 < k: all 6 come back.
    const r = index.search(queries.subarray(0, DIM), K, { filter: { rank: { $gte: N - 6 } }, exactScanMax: 1, maxLists: 1 });
    expect(r.ids.length).toBe(6);
    expect(r.matched).toBe(6);
  });

  it('a probe budget (maxProbes) bounds the lists read and may return fewer than k', () => {
    const r = index.search(queries.subarray(0, DIM), K, { filter: { rank: { $lt: 20 } }, exactScanMax: 1, maxProbes: 1, maxLists: 1 });
    expect(r.plan).toBe('probe');
    expect(r.stats.listsProbed).toBeLessThanOrEqual(1);
    expect(r.ids.length).toBeLessThanOrEqual(K);
  });

  it('an exact tenant scan reads exactly the tenant (stats leak nothing of other tenants)', () => {
    const count = index.listTenants().find((t) => t.name === 't5')!.count;
    const r = index.search(queries.subarray(0, DIM), K, { tenant: 't5', exactScanMax: N });
    expect(r.plan).toBe('exact');
    expect(r.stats.vectorsScanned).toBe(count);
    expect(r.matched).toBe(count);
  });

  it('batch search with a scope gives the single-query results', async () => {
    const opts = { tenant: 't1', filter: { color: 'green' } as Filter, maxLists: 16 };
    const batch = await index.searchBatch(queries, K, opts);
    for (let qi = 0; qi < 40; qi++) {
      const one = index.search(queries.subarray(qi * DIM, (qi + 1) * DIM), K, opts);
      expect([...batch.ids.subarray(qi * K, qi * K + one.ids.length)]).toEqual([...one.ids]);
    }
    expect(batch.matched).toBe(tenants.filter((t, r) => t === 't1' && attrs[r].color === 'green').length);
  });

  it('unknown tenants and malformed filters are coded errors naming the field', () => {
    const q = queries.subarray(0, DIM);
    expect(() => index.search(q, K, { tenant: 'nobody' })).toThrow(expect.objectContaining({ code: 'STRATA_UNKNOWN_TENANT', field: 'tenant' }));
    expect(() => index.search(q, K, { tenant: '' })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_TENANT' }));
    expect(() => index.search(q, K, { filter: { year: { $gt: 'x' } } as unknown as Filter })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_FILTER', field: 'filter.year.$gt' }));
    expect(() => index.search(q, K, { filter: { $and: [] } })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_FILTER', field: 'filter.$and' }));
    expect(() => index.search(q, K, { filter: { color: { $gt: 3 } } })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_FILTER', field: 'filter.color' }));
    expect(() => index.search(q, K, { filter: { year: { $between: [1, 2] } } as unknown as Filter })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_FILTER', field: 'filter.year.$between' }));
    // An attribute nobody has matches nothing: a filter cannot probe for other tenants' schema values.
    expect(index.search(q, K, { tenant: 't0', filter: { secret: 'x' } }).ids.length).toBe(0);
  });

  it('filter evaluation agrees with the reference semantics on random filters (fast-check, seeded)', () => {
    const leaf = fc.oneof(
      fc.record({ color: fc.constantFrom(...COLORS) }),
      fc.record({ tags: fc.record({ $in: fc.subarray(TAGS, { minLength: 1 }) }) }),
      fc.record({ tags: fc.record({ $nin: fc.subarray(TAGS, { minLength: 1 }) }) }),
      fc.record({ flag: fc.boolean() }),
      fc.record({ color: fc.record({ $ne: fc.constantFrom(...COLORS) }) }),
      fc.record({ year: fc.record({ $gte: fc.integer({ min: 1985, max: 2025 }), $lt: fc.integer({ min: 1985, max: 2025 }) }) }),
      fc.record({ year: fc.record({ $gt: fc.integer({ min: 1985, max: 2025 }) }) }),
      fc.record({ year: fc.integer({ min: 1989, max: 2021 }) }),
    ) as fc.Arbitrary<Filter>;
    const filter: fc.Arbitrary<Filter> = fc.letrec<{ f: Filter }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.record({ $and: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
        fc.record({ $or: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }),
        fc.record({ $not: tie('f') }),
      ),
    })).f;
    fc.assert(
      fc.property(filter, fc.constantFrom('t0', 't1', 't7'), (f, t) => {
        const r = index.search(queries.subarray(0, DIM), 1, { tenant: t, filter: f, exactScanMax: N });
        const want = tenants.filter((x, row) => x === t && matches(f, attrs[row])).length;
        return r.matched === want;
      }),
      { seed: 4242, numRuns: 200 },
    );
  });

  it('reopening gives identical scoped results, tenants and attributes', async () => {
    const before = [0, 1, 2].map((qi) => index.search(queries.subarray(qi * DIM, (qi + 1) * DIM), K, { tenant: 't2', filter: { color: 'red' } }));
    await index.close();
    index = await openIndex(tmp.dir);
    const after = [0, 1, 2].map((qi) => index.search(queries.subarray(qi * DIM, (qi + 1) * DIM), K, { tenant: 't2', filter: { color: 'red' } }));
    expect(after.map((r) => [...r.ids])).toEqual(before.map((r) => [...r.ids]));
    expect(after.map((r) => [...r.distances])).toEqual(before.map((r) => [...r.distances]));
    expect(index.listTenants().length).toBe(20);
  });

  it('deleting a tenant removes all of it in one step, and survives reopen', async () => {
    const victim = 't1';
    const victimIds = new Set([...ids].filter((_, r) => tenants[r] === victim));
    const before = index.stats();
    const removed = index.deleteTenant(victim);
    expect(removed).toBe(victimIds.size);
    const check = () => {
      expect(index.listTenants().map((t) => t.name)).not.toContain(victim);
      expect(index.stats().count).toBe(before.count - removed);
      for (let qi = 0; qi < 40; qi++) {
        const q = queries.subarray(qi * DIM, (qi + 1) * DIM);
        for (const opts of [{ maxLists: 64 }, { bypassIndex: true }, { filter: { color: 'red' } as Filter }, { filter: { color: 'red' } as Filter, exactScanMax: N }]) {
          for (const id of index.search(q, 50, opts).ids) expect(victimIds.has(id)).toBe(false);
        }
      }
      expect(() => index.search(queries.subarray(0, DIM), K, { tenant: victim })).toThrow(expect.objectContaining({ code: 'STRATA_UNKNOWN_TENANT' }));
      // Cached filter scopes were dropped with the tenant: the match count no longer includes it.
      const red = tenants.filter((t, r) => t !== victim && attrs[r].color === 'red').length;
      expect(index.search(queries.subarray(0, DIM), K, { filter: { color: 'red' } }).matched).toBe(red);
      // Number bitmaps (read from LMDB per value) lost the tenant's slots too, on both sides of a range.
      for (const range of [{ $lt: 1993 }, { $gte: 1993 }]) {
        const want = tenants.filter((t, r) => t !== victim && matches({ year: range } as Filter, attrs[r])).length;
        expect(index.search(queries.subarray(0, DIM), K, { filter: { year: range } as Filter }).matched).toBe(want);
      }
      expect(recallFor('t0', undefined, { plan: 'probe' }).recall).toBeGreaterThanOrEqual(0.95);
      expect(recallFor('t0', undefined, { plan: 'cells' }).recall).toBeGreaterThanOrEqual(0.95);
    };
    check();
    await index.close();
    index = await openIndex(tmp.dir);
    check();
    expect(rowOfId.size).toBe(N);
  });

  it('explicitly created tenants are listed, empty, and searchable with no results', () => {
    expect(index.createTenant('fresh')).toBe(true);
    expect(index.createTenant('fresh')).toBe(false);
    expect(index.listTenants().find((t) => t.name === 'fresh')).toEqual({ name: 'fresh', count: 0 });
    const r = index.search(queries.subarray(0, DIM), K, { tenant: 'fresh' });
    expect(r.plan).toBe('empty');
    expect(r.ids.length).toBe(0);
  });
});

describe('tenant isolation (property, fast-check, seeded)', () => {
  it('no result ever belongs to another tenant; a deleted tenant is unreachable', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 150, max: 500 }),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.constantFrom('auto', 'exact', 'cells', 'probe'),
        async (n, tenantCount, seed, plan) => {
          const tmp = tempDir('isolation');
          const data = mixture(n, DIM, seed);
          const rng = createRng(seed);
          const tenants = Array.from({ length: n }, () => `tenant-${rng.int(tenantCount)}`);
          const attrs = makeAttributes(n, seed + 1);
          const ids = Uint32Array.from({ length: n }, (_, r) => (r * 2654435761) % 4294967291);
          const tenantOf = new Map([...ids].map((id, r) => [id, tenants[r]]));
          const index = await createIndex(tmp.dir, { dimension: DIM, seed: 1, headRatio: 0.1 });
          try {
            await index.build(data, ids, { tenants, attributes: attrs });
            const names = index.listTenants().map((t) => t.name);
            const queries = mixture(5, DIM, seed + 2);
            for (let qi = 0; qi < 5; qi++) {
              const q = queries.subarray(qi * DIM, (qi + 1) * DIM);
              for (const t of names) {
                for (const filter of [undefined, { color: 'red' }, { $not: { year: { $lt: 2000 } } }] as Array<Filter | undefined>) {
                  const r = index.search(q, 20, { tenant: t, filter, plan: plan as 'auto', maxLists: 4 });
                  for (const id of r.ids) if (tenantOf.get(id) !== t) return false;
                }
              }
            }
            const victim = names[0];
            index.deleteTenant(victim);
            for (let qi = 0; qi < 5; qi++) {
              const r = index.search(queries.subarray(qi * DIM, (qi + 1) * DIM), n, { bypassIndex: true });
              for (const id of r.ids) if (tenantOf.get(id) === victim) return false;
            }
            return true;
          } finally {
            await index.close();
            tmp.cleanup();
          }
        },
      ),
      { seed: 20261122, numRuns: 15 },
    );
  });
});

describe('tenancy input checks', () => {
  it('bad tenants and attributes fail the build with coded errors before any work, naming the row', async () => {
    const tmp = tempDir('tenancy-errors');
    const data = mixture(50, DIM, 1);
    const index = await createIndex(tmp.dir, { dimension: DIM });
    try {
      await expect(index.build(data, undefined, { tenants: ['a'] })).rejects.toMatchObject({ code: 'STRATA_INVALID_TENANT', field: 'tenants' });
      const names = Array.from({ length: 50 }, () => 'a');
      names[7] = '';
      await expect(index.build(data, undefined, { tenants: names })).rejects.toMatchObject({ code: 'STRATA_INVALID_TENANT', field: 'tenants[7]' });
      const attrs: Attributes[] = Array.from({ length: 50 }, () => ({ year: 2000 }));
      attrs[9] = { year: 'new' };
      await expect(index.build(data, undefined, { attributes: attrs })).rejects.toMatchObject({ code: 'STRATA_INVALID_ATTRIBUTE', field: 'attributes[9].year' });
      attrs[9] = { $year: 1 };
      await expect(index.build(data, undefined, { attributes: attrs })).rejects.toMatchObject({ code: 'STRATA_INVALID_ATTRIBUTE', field: 'attributes[9].$year' });
      attrs[9] = { year: Number.NaN };
      await expect(index.build(data, undefined, { attributes: attrs })).rejects.toMatchObject({ code: 'STRATA_INVALID_ATTRIBUTE', field: 'attributes[9].year' });
      // Nothing was built: the index still accepts a good build.
      attrs[9] = { year: 1999 };
      await index.build(data, undefined, { attributes: attrs });
      expect(index.listTenants()).toEqual([{ name: 'default', count: 50 }]);
    } finally {
      await index.close();
      tmp.cleanup();
    }
  });
});

describe('cold tenants', () => {
  it('keep only the 64 most recently searched tenants loaded, and reload the rest with identical results', async () => {
    const tmp = tempDir('cold-tenants');
    const n = 3200;
    const data = mixture(n, DIM, 77);
    const tenants = Array.from({ length: n }, (_, r) => `c${r % 80}`);
    const index = await createIndex(tmp.dir, { dimension: DIM, seed: 2 });
    try {
      await index.build(data, undefined, { tenants });
      const q = mixture(1, DIM, 78);
      const round = () =>
        Array.from({ length: 80 }, (_, t) => ['probe', 'cells'].map((plan) => [...index.search(q, 5, { tenant: `c${t}`, plan: plan as 'probe' }).ids]));
      const first = round();
      const catalog = (index as unknown as { tenants: { get(n: string): { isLoaded: boolean } | undefined } }).tenants;
      const loaded = Array.from({ length: 80 }, (_, t) => catalog.get(`c${t}`)!.isLoaded).filter(Boolean).length;
      expect(loaded).toBeLessThanOrEqual(64);
      expect(catalog.get('c0')!.isLoaded).toBe(false); // the coldest were released
      expect(round()).toEqual(first);
    } finally {
      await index.close();
      tmp.cleanup();
    }
  });
});

describe("a tenant's own cells after inserts", () => {
  it('the vectors inserted since the build (scanned exactly) do not use up the cell walk: a small budget keeps its recall', async () => {
    const tmp = tempDir('cells-inserts');
    const index = await createIndex(tmp.dir, { dimension: 8 });
    try {
      const built = mixture(600, 8, 1, 8, 0.3), added = mixture(200, 8, 2, 8, 0.3);
      await index.build(built, undefined, { tenants: Array.from({ length: 600 }, (_, i) => (i % 2 ? 'globex' : 'acme')) });
      await index.insert(added, Array.from({ length: 200 }, (_, i) => 600 + i), { tenants: Array.from({ length: 200 }, () => 'acme') });
      const acme: Array<[number, Float32Array]> = [];
      for (let i = 0; i < 600; i += 2) acme.push([i, built.subarray(i * 8, i * 8 + 8)]);
      for (let i = 0; i < 200; i++) acme.push([600 + i, added.subarray(i * 8, i * 8 + 8)]);
      let hits = 0;
      for (let q = 0; q < 30; q++) {
        const v = built.subarray(q * 20 * 8, q * 20 * 8 + 8);
        const r = index.search(v, K, { tenant: 'acme', plan: 'cells', maxLists: 3 });
        const want = new Set(acme.map(([id, x]) => [id, l2Squared(v, 0, x, 0, 8)] as const).sort((a, b) => a[1] - b[1] || a[0] - b[0]).slice(0, K).map(([id]) => id));
        hits += Array.from(r.ids).filter((id) => want.has(id)).length;
      }
      expect(hits / (30 * K)).toBeGreaterThanOrEqual(0.95); // 0.70 when the 200 exact rows counted toward the walk
    } finally {
      await index.close();
      tmp.cleanup();
    }
  });
});
