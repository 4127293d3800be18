/**
 * Rebuilds: a collection that grows rebuildGrowth times past the set its index was built from is
 * re-clustered into a new index generation from its point store, while writes go on. After it:
 * every acknowledged write is there (upserts found by id and by a search of their own vector,
 * deletes gone), recall holds against exact search, and only the current generation is on disk.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, DIM, exactIds, points, startService, type TestService } from './server-helpers.js';

describe('collection rebuilds', () => {
  let s: TestService;
  const all = points(22_000, 21, ['acme', 'globex']);
  let liveIds: number[] = [];

  beforeAll(async () => {
    s = await startService({ rebuildGrowth: 2 });
    expect((await s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'grow', dimension: DIM })).status).toBe(201);
  });

  afterAll(async () => {
    await s?.cleanup();
  });

  const settle = async () => {
    for (;;) {
      const c = s.service.ctx.collections.get('grow');
      if (!c.rebuilding) return;
      await c.rebuilding;
    }
  };

  it('rebuilds past the growth factor, keeping every write made during the rebuild', async () => {
    const put = async (from: number, to: number) => {
      for (let i = from; i < to; i += 1000) expect((await s.call('POST', '/v1/collections/grow/points', ADMIN_KEY, { points: all.slice(i, Math.min(to, i + 1000)) })).status).toBe(200);
    };
    await put(0, 10_000); // the first upsert builds on 1,000 points; rebuilds follow as it doubles
    await settle();
    const built = (await s.call('GET', '/v1/collections/grow')).json;
    expect(built.generation).toBeGreaterThanOrEqual(2);
    expect(built.lastRebuild.points).toBeGreaterThanOrEqual(2000);
    // 10,000 -> 20,000: the write that crosses 2x starts a rebuild big enough to assign on the build pool,
    // so the writes and deletes sent while it runs interleave: they go to the current generation and
    // are replayed into the new one.
    await put(10_000, 20_000);
    const during: number[] = [];
    const deleted = [5, 15_000];
    let next = 20_000;
    while (s.service.ctx.collections.get('grow').rebuilding && next < 22_000) {
      expect((await s.call('POST', '/v1/collections/grow/points', ADMIN_KEY, { points: all.slice(next, next + 20) })).status).toBe(200);
      for (let i = next; i < next + 20; i++) during.push(i);
      next += 20;
    }
    for (const id of deleted) expect((await s.call('POST', '/v1/collections/grow/points/delete', ADMIN_KEY, { ids: [id], tenant: all[id].tenant })).json).toEqual({ deleted: 1 });
    await settle();
    const stats = (await s.call('GET', '/v1/collections/grow')).json;
    expect(during.length).toBeGreaterThan(0);
    expect(stats.generation).toBeGreaterThan(built.generation);
    expect(stats.lastRebuild.replayedWrites).toBeGreaterThan(0);
    expect(stats.points).toBe(next - deleted.length);
    console.log(`rebuilds: generation ${stats.generation}, last ${JSON.stringify(stats.lastRebuild)}, ${during.length} points written during it`);
    // Only the current generation is left on disk.
    expect(readdirSync(join(s.dir, 'collections', 'grow')).filter((f) => f.startsWith('index-'))).toEqual([`index-${stats.generation}`]);
    for (const id of deleted) expect((await s.call('GET', `/v1/collections/grow/points/${id}?tenant=${all[id].tenant}`)).status).toBe(404);
    // Points written during the rebuild (and a sample of the rest) are there, and found by a search of their own vector.
    const check = [...during, ...Array.from({ length: 200 }, (_, i) => i * 97)].filter((id) => !deleted.includes(id));
    for (const id of check) expect((await s.call('GET', `/v1/collections/grow/points/${id}?tenant=${all[id].tenant}`)).json.tenant, `point ${id}`).toBe(all[id].tenant);
    for (let i = 0; i < check.length; i += 200) {
      const ids = check.slice(i, i + 200);
      const r = await s.call('POST', '/v1/collections/grow/search/batch', ADMIN_KEY, { searches: ids.map((id) => ({ vector: all[id].vector, k: 1, params: { maxLists: 64 } })) });
      r.json.results.forEach((hits: Array<{ id: number; distance: number }>, j: number) => expect(hits[0].distance, `point ${ids[j]}`).toBe(0));
    }
    liveIds = Array.from({ length: next }, (_, i) => i).filter((id) => !deleted.includes(id));
  }, 120_000);

  it('keeps recall@10 >= 0.95 against exact search after the rebuild', async () => {
    const live = liveIds.map((id) => all[id]);
    const queries = points(100, 22, ['x']);
    const r = await s.call('POST', '/v1/collections/grow/search/batch', ADMIN_KEY, { searches: queries.map((p) => ({ vector: p.vector, k: 10 })) });
    let hit = 0;
    r.json.results.forEach((hits: Array<{ id: number }>, qi: number) => {
      const want = new Set(exactIds(live, queries[qi].vector, 10));
      hit += hits.filter((h) => want.has(h.id)).length;
    });
    expect(hit / (queries.length * 10)).toBeGreaterThanOrEqual(0.95);
  });

  it('an admin can ask for a rebuild: answered 202 at once, the next generation serves the same points; a tenant key and an empty collection are refused', async () => {
    const before = (await s.call('GET', '/v1/collections/grow')).json;
    const started = await s.call('POST', '/v1/collections/grow/rebuild', ADMIN_KEY, {});
    expect(started.status).toBe(202);
    expect(started.json.rebuilding).toBe(true);
    // Searches go on while it runs.
    expect((await s.call('POST', '/v1/collections/grow/search', ADMIN_KEY, { vector: all[7].vector, k: 1 })).json.results[0]).toMatchObject({ id: 7, distance: 0 });
    await settle();
    const after = (await s.call('GET', '/v1/collections/grow')).json;
    expect(after.generation).toBe(before.generation + 1);
    expect([after.points, after.rebuilding, after.lastRebuild.points]).toEqual([before.points, false, before.points]);
    expect((await s.call('POST', '/v1/collections/grow/search', ADMIN_KEY, { vector: all[7].vector, k: 1 })).json.results[0]).toMatchObject({ id: 7, distance: 0 });
    const tenantKey = (await s.call('POST', '/v1/keys', ADMIN_KEY, { collection: 'grow', tenant: 'acme' })).json.key;
    expect((await s.call('POST', '/v1/collections/grow/rebuild', tenantKey, {})).json.error.code).toBe('STRATA_FORBIDDEN');
    expect((await s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'empty', dimension: DIM })).status).toBe(201);
    const empty = await s.call('POST', '/v1/collections/empty/rebuild', ADMIN_KEY, {});
    expect([empty.status, empty.json.error.code]).toEqual([409, 'STRATA_INDEX_NOT_BUILT']);
  }, 120_000);
});
