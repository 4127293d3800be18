/**
 * The routes the web console stands on, through the service (no browser: test/console has that):
 * whoami, a collection's health report, search with explain (admin only; the same hits as without),
 * the console's static files (only the built ones; nothing outside them), and the benchmark results
 * it plots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { points, startService, type TestService } from './server-helpers.js';

let s: TestService;
let tenantKey: string;
const data = points(400, 3, ['acme', 'globex']);

beforeAll(async () => {
  s = await startService();
  expect((await s.call('POST', '/v1/collections', undefined, { name: 'shop', dimension: 8 })).status).toBe(201);
  expect((await s.call('POST', '/v1/collections/shop/points', undefined, { points: data })).status).toBe(200);
  tenantKey = (await s.call('POST', '/v1/keys', undefined, { collection: 'shop', tenant: 'acme' })).json.key;
});
afterAll(async () => {
  await s?.cleanup();
});

describe('routes the console uses', () => {
  it('whoami names the role, and a tenant key its tenant and collection', async () => {
    expect((await s.call('GET', '/v1/whoami')).json).toEqual({ role: 'admin', keyId: 'env' });
    const t = await s.call('GET', '/v1/whoami', tenantKey);
    expect(t.json).toMatchObject({ role: 'tenant', tenant: 'acme', collection: 'shop' });
    expect(t.json.keyId).toMatch(/^[0-9a-f]{12}$/);
    expect((await s.call('GET', '/v1/whoami', null)).json.error.code).toBe('STRATA_UNAUTHORIZED');
  });

  it("health: the index's report (every live vector in a list, no problem), admin only", async () => {
    const h = await s.call('GET', '/v1/collections/shop/health');
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ count: 400, orphanedIds: 0, problems: [] });
    expect(h.json.replicasPerVector).toBeGreaterThanOrEqual(1);
    expect(h.json.listLengths.lists.reduce((a: number, b: number) => a + b, 0)).toBe(h.json.heads);
    expect((await s.call('GET', '/v1/collections/shop/health', tenantKey)).json.error.code).toBe('STRATA_FORBIDDEN');
    expect((await s.call('POST', '/v1/collections', undefined, { name: 'empty', dimension: 8 })).status).toBe(201);
    expect((await s.call('GET', '/v1/collections/empty/health')).json.error.code).toBe('STRATA_INDEX_NOT_BUILT');
  });

  it('explain reports the plan and work and leaves the hits as they are; a tenant key may not ask for it', async () => {
    const q = { vector: data[7].vector, k: 10, tenant: 'acme', filter: { group: 'g1' } };
    const plain = await s.call('POST', '/v1/collections/shop/search', undefined, q);
    const explained = await s.call('POST', '/v1/collections/shop/search', undefined, { ...q, explain: true });
    expect(explained.json.results).toEqual(plain.json.results);
    expect(explained.json.explain.matched).toBe(data.filter((p) => p.tenant === 'acme' && p.metadata.group === 'g1').length);
    expect(['probe', 'exact', 'cells', 'probe+exact']).toContain(explained.json.explain.plan);
    expect(explained.json.explain.bytesRead).toBeGreaterThan(0);
    const unscoped = await s.call('POST', '/v1/collections/shop/search', undefined, { vector: data[7].vector, k: 5, explain: true, params: { maxLists: 4 } });
    expect(unscoped.json.explain).toMatchObject({ plan: 'probe', matched: 400 });
    expect(unscoped.json.explain.listsProbed).toBeGreaterThan(0);
    expect(unscoped.json.explain.listsProbed).toBeLessThanOrEqual(4);
    const refused = await s.call('POST', '/v1/collections/shop/search', tenantKey, { vector: data[7].vector, explain: true });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatchObject({ code: 'STRATA_FORBIDDEN', field: 'explain' });
    const batch = await s.call('POST', '/v1/collections/shop/search/batch', undefined, { searches: [{ vector: data[7].vector, explain: true }] });
    expect(batch.json.error.code).toBe('STRATA_INVALID_REQUEST'); // explain is the single search's
  });

  it("keeps the last minutes of the service's metrics: requests, queries and latency buckets between samples (admin)", async () => {
    const h = s.service.ctx.metrics.history;
    await h.sample();
    for (let i = 0; i < 7; i++) await s.call('POST', '/v1/collections/shop/search', undefined, { vector: data[i].vector });
    await s.call('GET', '/metrics'); // scrapes are not counted
    await h.sample();
    const r = await s.call('GET', '/v1/console/metrics');
    expect(r.status).toBe(200);
    expect(r.json.everyMs).toBe(5000);
    expect(r.json.bounds[r.json.bounds.length - 1]).toBeNull(); // +Inf
    const [a, b] = r.json.samples.slice(-2);
    expect(b.queries - a.queries).toBe(7);
    expect(b.requests - a.requests).toBe(7);
    expect(b.buckets[b.buckets.length - 1] - a.buckets[a.buckets.length - 1]).toBe(7);
    expect(b.buckets).toEqual([...b.buckets].sort((x: number, y: number) => x - y)); // cumulative
    expect((await s.call('GET', '/v1/console/metrics', tenantKey)).json.error.code).toBe('STRATA_FORBIDDEN');
  });

  it('browses points a page at a time: every point once, as sent, without vectors; a tenant key only its own', async () => {
    const walk = async (key: string | undefined, query: string) => {
      const seen: Array<{ id: number; tenant: string; metadata: unknown }> = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const r = await s.call('GET', `/v1/collections/shop/points?limit=64${query}${cursor ? `&cursor=${cursor}` : ''}`, key);
        expect(r.status).toBe(200);
        expect(r.json.points.length).toBeLessThanOrEqual(64);
        seen.push(...r.json.points);
        cursor = r.json.next;
        pages++;
      } while (cursor);
      return { seen, pages };
    };
    const all = await walk(undefined, '');
    expect(all.seen).toHaveLength(400);
    expect(all.pages).toBe(7);
    expect(new Set(all.seen.map((p) => `${p.tenant}/${p.id}`)).size).toBe(400);
    for (const p of all.seen) {
      const sent = data.find((d) => d.tenant === p.tenant && d.id === p.id)!;
      expect(p).toEqual({ id: sent.id, tenant: sent.tenant, metadata: sent.metadata });
    }
    const acme = await walk(tenantKey, '');
    expect(acme.seen).toHaveLength(200);
    expect(acme.seen.every((p) => p.tenant === 'acme')).toBe(true);
    expect((await walk(undefined, '&tenant=acme')).seen).toEqual(acme.seen);
    expect((await s.call('GET', '/v1/collections/shop/points?tenant=globex', tenantKey)).json.error.code).toBe('STRATA_FORBIDDEN');
    // A cursor into another tenant's keys takes a tenant key nowhere outside its own.
    const globexCursor = Buffer.from('globex\u0000100', 'utf8').toString('base64url');
    const r = await s.call('GET', `/v1/collections/shop/points?limit=1000&cursor=${globexCursor}`, tenantKey);
    expect(r.json.points).toHaveLength(200);
    expect(r.json.points.every((p: { tenant: string }) => p.tenant === 'acme')).toBe(true);
    expect((await s.call('GET', '/v1/collections/shop/points?limit=0')).json.error).toMatchObject({ code: 'STRATA_INVALID_REQUEST' });
  });

  it('serves the console: the page and its modules, without a key; nothing else', async () => {
    const page = await s.service.app.inject({ method: 'GET', url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('<script type="module" src="app.js">');
    const app = await s.service.app.inject({ method: 'GET', url: '/console/app.js' });
    expect(app.statusCode).toBe(200);
    expect(app.headers['content-type']).toContain('text/javascript');
    expect((await s.service.app.inject({ method: 'GET', url: '/console/console.css' })).statusCode).toBe(200);
    expect((await s.service.app.inject({ method: 'GET', url: '/console' })).headers.location).toBe('/console/');
    for (const url of ['/console/..%2Fpackage.json', '/console/app.d.ts', '/console/app.js.map', '/console/%2e%2e%2fREADME.md', '/console/api.ts']) {
      const r = await s.service.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
      expect(JSON.parse(r.body).error.code).toBe('STRATA_ROUTE_NOT_FOUND');
    }
  });

  it('lists and returns benchmark result files (any key); names outside bench/results are refused', async () => {
    const list = await s.call('GET', '/v1/console/results', tenantKey);
    expect(list.status).toBe(200);
    expect(list.json.results.length).toBeGreaterThan(0);
    expect(list.json.results.every((r: { name: string }) => r.name.endsWith('.json'))).toBe(true);
    const first = list.json.results[0].name;
    const file = await s.call('GET', `/v1/console/results/${first}`, tenantKey);
    expect(file.status).toBe(200);
    expect(typeof file.json).toBe('object');
    expect((await s.call('GET', '/v1/console/results/nope.json')).json.error.code).toBe('STRATA_RESULT_NOT_FOUND');
    expect((await s.call('GET', '/v1/console/results/..%2Fpackage.json')).json.error.code).toBe('STRATA_INVALID_REQUEST');
    expect((await s.call('GET', '/v1/console/results', null)).status).toBe(401);
  });
});
