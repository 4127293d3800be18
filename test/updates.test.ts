import { afterAll, describe, expect, it } from 'vitest';
import { createIndex, openIndex } from '../src/index/spann.js';
import { exactSearch } from '../src/index/exact.js';
import type { Filter } from '../src/index/filter.js';
import { mixture, recall, tempDir } from './helpers.js';

const DIM = 24;

/** recall@10 of the index over `queries` against exact search over `base` (labels = ids). */
async function recallOf(index: Awaited<ReturnType<typeof createIndex>>, base: Float32Array, labels: Uint32Array, queries: Float32Array, maxLists = 16): Promise<number> {
  const nq = queries.length / DIM;
  const truth = await exactSearch(base, queries, DIM, 10, { labels });
  const got = new Uint32Array(nq * 10).fill(0xffffffff);
  for (let q = 0; q < nq; q++) got.set(index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { maxLists }).ids, q * 10);
  return recall(got, truth.ids, 10, nq);
}

function rows(data: Float32Array, from: number, to: number): Float32Array {
  return data.subarray(from * DIM, to * DIM);
}

describe('live updates', () => {
  const tmp = tempDir('updates');
  afterAll(() => tmp.cleanup());

  it('inserts, upserts and deletes: counts, id lookups, no deleted id in any result, reopen keeps it all', async () => {
    const data = mixture(3000, DIM, 1);
    const dir = `${tmp.dir}/basic`;
    const index = await createIndex(dir, { dimension: DIM });
    await index.build(rows(data, 0, 2000));
    const ids = Uint32Array.from({ length: 1000 }, (_, i) => 2000 + i);
    expect(await index.insert(rows(data, 2000, 3000), ids)).toEqual({ inserted: 1000, replaced: 0, deleted: 0 });
    expect(index.count).toBe(3000);
    // A duplicate insert fails alone: the write issued with it in the same tick commits.
    const dup = index.insert(rows(data, 0, 1), [5]);
    const other = index.delete([7, 123456]);
    await expect(dup).rejects.toMatchObject({ code: 'STRATA_ID_EXISTS', field: 'ids[0]' });
    expect(await other).toEqual({ inserted: 0, replaced: 0, deleted: 1 });
    // upsert moves id 9 onto another vector
    expect(await index.upsert(rows(data, 2500, 2501), [9])).toEqual({ inserted: 0, replaced: 1, deleted: 0 });
    const deleted = Array.from({ length: 300 }, (_, i) => i * 10 + 1);
    await index.delete(deleted);
    const gone = new Set([7, ...deleted]);
    expect(index.get(7)).toBeNull();
    expect(index.get(9)).toEqual({ id: 9, tenant: 'default' });
    const queries = mixture(60, DIM, 2);
    for (let q = 0; q < 60; q++) {
      for (const id of index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { maxLists: 32 }).ids) expect(gone.has(id)).toBe(false);
    }
    const top = index.search(rows(data, 2500, 2501), 2, { maxLists: 32 });
    expect(new Set(top.ids)).toEqual(new Set([9, 2500]));
    const h = index.health();
    expect(h.problems).toEqual([]);
    expect(h.count).toBe(3000 - 301);
    const before = Array.from({ length: 20 }, (_, q) => Array.from(index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10).ids));
    await index.close();
    const again = await openIndex(dir);
    expect(again.count).toBe(2699);
    expect(again.get(7)).toBeNull();
    expect(Array.from({ length: 20 }, (_, q) => Array.from(again.search(queries.subarray(q * DIM, (q + 1) * DIM), 10).ids))).toEqual(before);
    await again.close();
  });

  it('incremental build: half built, half inserted keeps recall@10 within 1 point of a bulk build', async () => {
    const n = 8000;
    const data = mixture(n, DIM, 11, 60, 0.35);
    const queries = mixture(200, DIM, 12, 60, 0.35);
    const labels = Uint32Array.from({ length: n }, (_, i) => i);
    const bulk = await createIndex(`${tmp.dir}/bulk`, { dimension: DIM });
    await bulk.build(data);
    const bulkRecall = await recallOf(bulk, data, labels, queries, 4);
    const bulkHeads = bulk.stats().heads;
    await bulk.close();
    const inc = await createIndex(`${tmp.dir}/inc`, { dimension: DIM });
    await inc.build(rows(data, 0, n / 2));
    const writes = [];
    for (let s = n / 2; s < n; s += 500) writes.push(inc.insert(rows(data, s, s + 500), labels.subarray(s, s + 500)));
    await Promise.all(writes);
    const incRecall = await recallOf(inc, data, labels, queries, 4);
    const h = inc.health();
    expect(h.problems).toEqual([]);
    expect(h.overCap).toBe(0);
    console.log(`incremental build: recall@10 ${incRecall} vs bulk ${bulkRecall}; heads ${inc.stats().heads} vs ${bulkHeads}`);
    expect(incRecall).toBeGreaterThanOrEqual(bulkRecall - 0.01);
    await inc.close();
  });

  it('30% deletes and re-inserts, then compaction: recall holds, tombstones are applied, health is clean', async () => {
    const n = 6000;
    const data = mixture(n, DIM, 21, 50, 0.3);
    const queries = mixture(150, DIM, 22, 50, 0.3);
    const labels = Uint32Array.from({ length: n }, (_, i) => i);
    const index = await createIndex(`${tmp.dir}/churn`, { dimension: DIM });
    await index.build(data);
    const fresh = await recallOf(index, data, labels, queries, 4);
    const victims = Uint32Array.from({ length: n * 0.3 }, (_, i) => (i * 7919) % n);
    await index.delete(victims);
    expect(index.stats().tombstones).toBe(victims.length);
    const vec = new Float32Array(victims.length * DIM);
    victims.forEach((id, i) => vec.set(rows(data, id, id + 1), i * DIM));
    await index.insert(vec, victims);
    const churned = await recallOf(index, data, labels, queries, 4);
    console.log(`churn: recall@10 fresh ${fresh}, after 30% delete + reinsert ${churned}`);
    expect(churned).toBeGreaterThanOrEqual(fresh - 0.01);
    const report = await index.compact();
    expect(report.entriesRemoved).toBeGreaterThan(0);
    const h = index.health();
    expect(h.problems).toEqual([]);
    expect(h.deadEntries).toBe(0);
    expect(index.stats().tombstones).toBe(0);
    const compacted = await recallOf(index, data, labels, queries, 4);
    console.log(`churn: after compaction ${compacted}`);
    expect(compacted).toBeGreaterThanOrEqual(fresh - 0.01);
    await index.close();
  });

  it('tenants take inserts: scoped search equals exact search over the tenant, new tenants appear', async () => {
    const n = 3000;
    const data = mixture(n + 600, DIM, 31);
    const tenants = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'a' : 'b'));
    const index = await createIndex(`${tmp.dir}/tenants`, { dimension: DIM });
    await index.build(rows(data, 0, n), undefined, { tenants });
    const newIds = Uint32Array.from({ length: 600 }, (_, i) => n + i);
    const newTenants = Array.from({ length: 600 }, (_, i) => (i % 2 === 0 ? 'a' : 'c'));
    // interleaved small batches fragment the tenants' slot runs (more than 32 runs each)
    for (let s = 0; s < 600; s += 10) await index.insert(rows(data, n + s, n + s + 10), newIds.subarray(s, s + 10), { tenants: newTenants.slice(s, s + 10) });
    await index.delete(Uint32Array.from({ length: 100 }, (_, i) => i * 3));
    expect(index.listTenants()).toEqual([
      { name: 'a', count: 1000 - 100 + 300 },
      { name: 'b', count: 2000 },
      { name: 'c', count: 300 },
    ]);
    const owner = (id: number) => (id < n ? tenants[id] : newTenants[id - n]);
    const deleted = new Set(Array.from({ length: 100 }, (_, i) => i * 3));
    const members = [...Array(n + 600).keys()].filter((id) => owner(id) === 'a' && !deleted.has(id));
    const base = new Float32Array(members.length * DIM);
    members.forEach((id, i) => base.set(rows(data, id, id + 1), i * DIM));
    const queries = mixture(30, DIM, 32);
    const truth = await exactSearch(base, queries, DIM, 10, { labels: Uint32Array.from(members) });
    for (const plan of ['exact', 'probe', 'cells'] as const) {
      for (let q = 0; q < 30; q++) {
        const r = index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { tenant: 'a', plan, maxLists: 64 });
        for (const id of r.ids) expect(owner(id)).toBe('a');
        if (plan === 'exact') expect(Array.from(r.ids)).toEqual(Array.from(truth.ids.subarray(q * 10, q * 10 + 10)));
      }
    }
    const c = index.search(rows(data, n + 1, n + 2), 1, { tenant: 'c' });
    expect(Array.from(c.ids)).toEqual([n + 1]);
    expect(index.health().problems).toEqual([]);
    // deleting a tenant that only has inserted vectors (in appended list records) removes all of it
    expect(index.deleteTenant('c')).toBe(300);
    expect(index.get(n + 1)).toBeNull();
    for (let q = 0; q < 30; q++) for (const id of index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { maxLists: 64 }).ids) expect(owner(id)).not.toBe('c');
    expect(index.health().problems).toEqual([]);
    await index.close();
  });

  it('a read-only handle follows the writer; compaction with reclaimDisk shrinks the file and keeps every answer', async () => {
    const n = 4000;
    const data = mixture(n + 2000, DIM, 61);
    const dir = `${tmp.dir}/reclaim`;
    const index = await createIndex(dir, { dimension: DIM });
    await index.build(rows(data, 0, n));
    const reader = await openIndex(dir, { readOnly: true });
    const q = rows(data, n + 10, n + 11);
    expect(Array.from(reader.search(q, 1).ids)).not.toContain(n + 10);
    await index.insert(rows(data, n, n + 2000), Uint32Array.from({ length: 2000 }, (_, i) => n + i));
    await index.delete(Uint32Array.from({ length: 2000 }, (_, i) => i * 2));
    expect(Array.from(reader.search(q, 1).ids)).toEqual([n + 10]); // the reader moved to the new snapshot
    expect(reader.count).toBe(n);
    // Point lookups follow too, with the tenant of a write made after the reader opened.
    await index.insert(new Float32Array(DIM).fill(50), [99_999], { tenants: 'late' });
    expect(reader.get(99_999)).toEqual({ id: 99_999, tenant: 'late' });
    await index.delete([99_999]);
    expect(reader.get(99_999)).toBeNull();
    await reader.close();
    const queries = mixture(40, DIM, 62);
    const answer = () => Array.from({ length: 40 }, (_, i) => Array.from(index.search(queries.subarray(i * DIM, (i + 1) * DIM), 10).ids));
    await index.compact();
    const before = answer();
    const grown = index.diskBytes();
    const report = await index.compact({ reclaimDisk: true });
    expect(report.diskBytesAfter).toBeLessThan(grown);
    expect(answer()).toEqual(before);
    expect(index.health().problems).toEqual([]);
    await index.insert(rows(data, 0, 1), [0]); // writes go on after the switch
    expect(index.get(0)).not.toBeNull();
    await index.close();
    const again = await openIndex(dir);
    expect(again.count).toBe(n + 1);
    await again.close();
  });

  it('inserts and upserts carry attributes: filtered search equals exact search over the matching live vectors', async () => {
    const n = 3000;
    const data = mixture(n + 1500, DIM, 71);
    const attrsOf = (id: number) => ({ lang: id % 3 === 0 ? 'en' : 'de', year: 2000 + (id % 7), score: id * 1.5, ok: id % 2 === 0 });
    const index = await createIndex(`${tmp.dir}/attrs`, { dimension: DIM });
    await index.build(rows(data, 0, n), undefined, { attributes: Array.from({ length: n }, (_, id) => attrsOf(id)) });
    // new keyword values, a new year (the bitmap layout is rebuilt), more distinct scores than bitmaps
    const extra = (id: number) => ({ lang: id % 5 === 0 ? 'fr' : 'en', year: 1990 + (id % 3), score: id * 1.5, ok: id % 2 === 0 });
    const ids = Uint32Array.from({ length: 1500 }, (_, i) => n + i);
    await index.insert(rows(data, n, n + 1500), ids, { attributes: Array.from(ids, (id) => extra(id)) });
    await index.upsert(rows(data, 10, 11), [10], { attributes: [{ lang: 'fr', year: 1991, score: -1, ok: false }] });
    await index.delete(Uint32Array.from({ length: 300 }, (_, i) => i * 7 + 1));
    const deleted = new Set(Array.from({ length: 300 }, (_, i) => i * 7 + 1));
    const attrsNow = (id: number) => (id === 10 ? { lang: 'fr', year: 1991, score: -1, ok: false } : id < n ? attrsOf(id) : extra(id));
    const queries = mixture(20, DIM, 72);
    const filters: Filter[] = [
      { lang: 'fr' },
      { year: { $lt: 2000 } },
      { $and: [{ lang: 'en' }, { score: { $gte: 2000 } }] },
      { $or: [{ ok: false }, { year: 1992 }] },
    ];
    const check: Record<string, (a: ReturnType<typeof attrsNow>) => boolean> = {
      0: (a) => a.lang === 'fr',
      1: (a) => a.year < 2000,
      2: (a) => a.lang === 'en' && a.score >= 2000,
      3: (a) => !a.ok || a.year === 1992,
    };
    for (let f = 0; f < filters.length; f++) {
      const members = [...Array(n + 1500).keys()].filter((id) => !deleted.has(id) && check[f](attrsNow(id)));
      const base = new Float32Array(members.length * DIM);
      members.forEach((id, i) => base.set(rows(data, id, id + 1), i * DIM));
      const truth = await exactSearch(base, queries, DIM, 10, { labels: Uint32Array.from(members) });
      for (let q = 0; q < 20; q++) {
        const r = index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { filter: filters[f], plan: 'exact' });
        expect(r.matched).toBe(members.length);
        expect(Array.from(r.ids)).toEqual(Array.from(truth.ids.subarray(q * 10, q * 10 + 10)));
      }
    }
    await expect(index.insert(rows(data, 0, 1), [99999], { attributes: [{ lang: 5 }] })).rejects.toMatchObject({ code: 'STRATA_INVALID_ATTRIBUTE', field: 'attributes[0].lang' });
    expect(index.get(99999)).toBeNull();
    expect(index.health().problems).toEqual([]);
    await index.close();
  });

  it('bad writes fail with coded errors naming the field, and change nothing', async () => {
    const index = await createIndex(`${tmp.dir}/bad`, { dimension: DIM });
    await expect(index.insert(mixture(2, DIM, 1), [1, 2])).rejects.toMatchObject({ code: 'STRATA_INDEX_NOT_BUILT' });
    await index.build(mixture(500, DIM, 41));
    await expect(index.insert(new Float32Array(DIM + 1), [1000])).rejects.toMatchObject({ code: 'STRATA_DIMENSION_MISMATCH', field: 'vectors' });
    await expect(index.insert(new Float32Array(DIM).fill(NaN), [1000])).rejects.toMatchObject({ code: 'STRATA_NON_FINITE' });
    await expect(index.insert(mixture(2, DIM, 1), [1000, 1000])).rejects.toMatchObject({ code: 'STRATA_INVALID_ID' });
    await expect(index.insert(mixture(1, DIM, 1), [-1])).rejects.toMatchObject({ code: 'STRATA_INVALID_ID' });
    await expect(index.insert(mixture(1, DIM, 1), [1000], { tenants: '' })).rejects.toMatchObject({ code: 'STRATA_INVALID_TENANT', field: 'tenants' });
    await expect(index.insert(mixture(1, DIM, 1), [1000], { tenant: 'x' } as never)).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'tenant' });
    await expect(index.delete(['x' as never])).rejects.toMatchObject({ code: 'STRATA_INVALID_ID' });
    expect(index.count).toBe(500);
    expect(index.stats().version).toBe(1);
    expect(index.health().problems).toEqual([]);
    await index.close();
  });
});
