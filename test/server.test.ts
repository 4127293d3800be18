/**
 * The HTTP service through app.inject(): every route, every error code it answers with, the auth
 * matrix (admin, tenant A, tenant B, no key, bad key), tenant isolation against exact search, load
 * shedding, and one real listen() on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';
import { ADMIN_KEY, DIM, exactIds, points, startService, type Point, type TestService } from './server-helpers.js';

describe('HTTP service', () => {
  let s: TestService;
  let keyA: string;
  let keyB: string;
  let keyAId: string;
  const all: Point[] = [...points(600, 1, ['acme', 'globex']), ...points(200, 2, ['acme', 'globex', 'initech'], 600)];

  beforeAll(async () => {
    s = await startService();
    expect((await s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'docs', dimension: DIM })).status).toBe(201);
    const first = await s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: all.slice(0, 600) });
    expect(first.json).toEqual({ inserted: 600, replaced: 0, built: true });
    const second = await s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: all.slice(600) });
    expect(second.json).toEqual({ inserted: 200, replaced: 0, built: false });
    const a = await s.call('POST', '/v1/keys', ADMIN_KEY, { collection: 'docs', tenant: 'acme', label: 'acme app' });
    expect(a.status).toBe(201);
    keyA = a.json.key;
    keyAId = a.json.id;
    keyB = (await s.call('POST', '/v1/keys', ADMIN_KEY, { collection: 'docs', tenant: 'globex' })).json.key;
  }, 60_000);

  afterAll(async () => {
    await s?.cleanup();
  });

  it('answers health, readiness, stats, docs and metrics', async () => {
    expect(await s.call('GET', '/healthz', null)).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await s.call('GET', '/readyz', null)).toMatchObject({ status: 200, json: { status: 'ready' } });
    const stats = await s.call('GET', '/v1/collections/docs');
    expect(stats.json).toMatchObject({ name: 'docs', dimension: DIM, metric: 'l2', spec: 'SPANN', state: 'built', points: 800, tenants: 3 });
    expect((await s.call('GET', '/v1/collections')).json.collections.map((c: { name: string }) => c.name)).toEqual(['docs']);
    const tenants = (await s.call('GET', '/v1/collections/docs/tenants')).json.tenants;
    expect(tenants).toEqual(expect.arrayContaining([{ name: 'acme', count: 367 }, { name: 'globex', count: 367 }, { name: 'initech', count: 66 }]));
    const docs = await s.call('GET', '/docs/json', null);
    expect(docs.status).toBe(200);
    for (const path of ['/v1/collections', '/v1/collections/{name}/points', '/v1/collections/{name}/search', '/v1/collections/{name}/search/batch', '/v1/keys', '/metrics']) {
      expect(Object.keys(docs.json.paths)).toContain(path);
    }
    await s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: all[0].vector, k: 3 });
    const metrics = await s.call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.json).toMatch(/strata_http_request_duration_seconds_bucket\{.*route="\/v1\/collections\/:name\/search"/);
    expect(metrics.json).toMatch(/strata_collection_points\{collection="docs"\} 800/);
    expect(metrics.json).toMatch(/strata_search_queries_total\{collection="docs"\} \d+/);
  });

  it('finds what exact search finds (recall@10 >= 0.95 over 40 queries, each stored vector first)', async () => {
    let hits = 0;
    for (let q = 0; q < 40; q++) {
      const p = all[q * 19];
      const r = await s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: p.vector, k: 10 });
      expect(r.status).toBe(200);
      expect(r.json.results[0]).toEqual({ id: p.id, tenant: p.tenant, distance: 0 });
      const want = new Set(exactIds(all, p.vector, 10));
      hits += r.json.results.filter((h: { id: number }) => want.has(h.id)).length;
    }
    expect(hits / 400).toBeGreaterThanOrEqual(0.95);
  });

  it('batch search answers each query as a single search would', async () => {
    const searches = [0, 50, 100, 150].map((i) => ({ vector: all[i].vector, k: 5 }));
    searches.push({ vector: all[7].vector, k: 5, tenant: 'globex', filter: { group: 'g1' } } as never);
    const batch = await s.call('POST', '/v1/collections/docs/search/batch', ADMIN_KEY, { searches });
    expect(batch.status).toBe(200);
    for (let i = 0; i < searches.length; i++) {
      const single = await s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, searches[i]);
      expect(batch.json.results[i]).toEqual(single.json.results);
    }
  });

  it('a tenant key searches its tenant only, equal to exact search over that tenant (filters too)', async () => {
    const acme = all.filter((p) => p.tenant === 'acme');
    const acmeIds = new Set(acme.map((p) => p.id));
    let hits = 0;
    for (let q = 0; q < 30; q++) {
      const p = all[q * 23];
      // The body may not widen the scope: the key decides.
      const r = await s.call('POST', '/v1/collections/docs/search', keyA, { vector: p.vector, k: 10 });
      expect(r.status).toBe(200);
      for (const h of r.json.results) expect(acmeIds.has(h.id)).toBe(true);
      const want = new Set(exactIds(acme, p.vector, 10));
      hits += r.json.results.filter((h: { id: number }) => want.has(h.id)).length;
      const f = await s.call('POST', '/v1/collections/docs/search', keyA, { vector: p.vector, k: 10, filter: { group: 'g2', even: false } });
      const fWant = exactIds(acme.filter((x) => x.metadata.group === 'g2' && !x.metadata.even), p.vector, 10);
      expect(f.json.results.map((h: { id: number }) => h.id)).toEqual(fWant);
    }
    expect(hits / 300).toBeGreaterThanOrEqual(0.95);
    const other = await s.call('POST', '/v1/collections/docs/search', keyA, { vector: all[0].vector, k: 10, tenant: 'globex' });
    expect(other.status).toBe(403);
    expect(other.json.error.code).toBe('STRATA_FORBIDDEN');
  });

  it('auth matrix: admin-only routes, tenant routes, no key, bad key', async () => {
    const bad = `sk_${keyAId}_${'A'.repeat(43)}`; // a real id with a wrong secret
    const body = { vector: all[1].vector, k: 2 };
    const cases: Array<{ method: string; url: string; body?: unknown; admin: number; tenant: number }> = [
      { method: 'GET', url: '/v1/collections', admin: 200, tenant: 403 },
      { method: 'POST', url: '/v1/collections', body: { name: 'x1', dimension: 4 }, admin: 201, tenant: 403 },
      { method: 'DELETE', url: '/v1/collections/x1', admin: 200, tenant: 403 },
      { method: 'GET', url: '/v1/collections/docs', admin: 200, tenant: 200 },
      { method: 'POST', url: '/v1/collections/docs/search', body, admin: 200, tenant: 200 },
      { method: 'POST', url: '/v1/collections/docs/search/batch', body: { searches: [body] }, admin: 200, tenant: 200 },
      { method: 'GET', url: '/v1/collections/docs/points/1?tenant=globex', admin: 200, tenant: 403 },
      { method: 'GET', url: '/v1/collections/docs/tenants', admin: 200, tenant: 403 },
      { method: 'POST', url: '/v1/collections/docs/compact', admin: 200, tenant: 403 },
      { method: 'GET', url: '/v1/keys', admin: 200, tenant: 403 },
      { method: 'POST', url: '/v1/keys', body: { collection: 'docs', tenant: 'acme' }, admin: 201, tenant: 403 },
      { method: 'GET', url: '/metrics', admin: 200, tenant: 403 },
    ];
    const before = (await s.call('GET', '/v1/collections/docs')).json.points;
    for (const c of cases) {
      for (const [who, key] of [['none', null], ['bad', bad], ['garbage', 'not-a-key']] as const) {
        const r = await s.call(c.method, c.url, key, c.body);
        expect(r.status, `${who} ${c.method} ${c.url}`).toBe(401);
        expect(r.json.error.code).toBe('STRATA_UNAUTHORIZED');
      }
      // Tenant keys first (a 201/200 by the admin may create or drop something).
      const a = await s.call(c.method, c.url, keyA, c.body);
      expect(a.status, `tenant ${c.method} ${c.url}`).toBe(c.tenant);
      if (a.status >= 400) expect(a.json.error.code).toMatch(/^STRATA_(FORBIDDEN|POINT_NOT_FOUND)$/);
      const r = await s.call(c.method, c.url, ADMIN_KEY, c.body);
      expect(r.status, `admin ${c.method} ${c.url}`).toBe(c.admin);
    }
    // Point 1 is globex's: key B reads it, key A has no point 1 in its own tenant.
    expect((await s.call('GET', '/v1/collections/docs/points/1', keyB)).json).toEqual({ id: 1, tenant: 'globex', metadata: all[1].metadata });
    expect((await s.call('GET', '/v1/collections/docs/points/1', keyA)).json.error.code).toBe('STRATA_POINT_NOT_FOUND');
    expect((await s.call('GET', '/v1/collections/docs/points/1')).json.error.code).toBe('STRATA_POINT_NOT_FOUND'); // the admin's default tenant
    // The point store gives back what was sent (vectors are float32: sent values are float32 already).
    expect((await s.call('GET', '/v1/collections/docs/points/1?vector=true', keyB)).json).toEqual({ id: 1, tenant: 'globex', metadata: all[1].metadata, vector: all[1].vector });
    expect((await s.call('GET', '/v1/collections/docs')).json.points).toBe(before);
  });

  it('a tenant key never writes outside its tenant, and ids held by other tenants change nothing it is answered', async () => {
    const globexPoint = all.find((p) => p.tenant === 'globex')!;
    // Naming another tenant in the body.
    let r = await s.call('POST', '/v1/collections/docs/points', keyA, { points: [{ id: 9000, vector: all[0].vector, tenant: 'globex' }] });
    expect(r.status).toBe(403);
    // An id globex holds and an id nobody holds: the same answer (ids are per tenant), globex's point untouched.
    const held = await s.call('POST', '/v1/collections/docs/points', keyA, { points: [{ id: globexPoint.id, vector: [7, 7, 7, 7, 7, 7, 7, 7] }] });
    const unused = await s.call('POST', '/v1/collections/docs/points', keyA, { points: [{ id: 777_777, vector: [7, 7, 7, 7, 7, 7, 7, 6] }] });
    expect(held.status).toBe(200);
    expect(held.json).toEqual(unused.json);
    expect(held.json).toEqual({ inserted: 1, replaced: 0 });
    expect((await s.call('GET', `/v1/collections/docs/points/${globexPoint.id}?vector=true`, keyB)).json).toEqual({ id: globexPoint.id, tenant: 'globex', metadata: globexPoint.metadata, vector: globexPoint.vector });
    expect((await s.call('GET', `/v1/collections/docs/points/${globexPoint.id}?tenant=acme&vector=true`)).json).toEqual({ id: globexPoint.id, tenant: 'acme', metadata: {}, vector: [7, 7, 7, 7, 7, 7, 7, 7] });
    const mine = await s.call('POST', '/v1/collections/docs/search', keyA, { vector: [7, 7, 7, 7, 7, 7, 7, 7], k: 1 });
    expect(mine.json.results[0]).toEqual({ id: globexPoint.id, tenant: 'acme', distance: 0 });
    // Deleting that id deletes the key's own point only; globex's stays.
    r = await s.call('POST', '/v1/collections/docs/points/delete', keyA, { ids: [globexPoint.id, 777_777] });
    expect(r.json).toEqual({ deleted: 2 });
    r = await s.call('POST', '/v1/collections/docs/points/delete', keyA, { ids: [globexPoint.id] });
    expect(r.json).toEqual({ deleted: 0 });
    expect((await s.call('GET', `/v1/collections/docs/points/${globexPoint.id}?tenant=globex`)).json.tenant).toBe('globex');
    expect((await s.call('POST', '/v1/collections/docs/points/delete', keyA, { ids: [1], tenant: 'globex' })).status).toBe(403);
    // Another collection: 403 whether it exists or not.
    expect((await s.call('POST', '/v1/collections/nope/search', keyA, { vector: all[0].vector })).status).toBe(403);
    // Its own writes land in its tenant and are searchable at once.
    r = await s.call('POST', '/v1/collections/docs/points', keyA, { points: [{ id: 5000, vector: [9, 9, 9, 9, 9, 9, 9, 9] }] });
    expect(r.json).toEqual({ inserted: 1, replaced: 0 });
    expect((await s.call('GET', '/v1/collections/docs/points/5000', keyA)).json).toEqual({ id: 5000, tenant: 'acme', metadata: {} });
    expect((await s.call('GET', '/v1/collections/docs/points/5000', keyB)).status).toBe(404);
    const found = await s.call('POST', '/v1/collections/docs/search', keyA, { vector: [9, 9, 9, 9, 9, 9, 9, 9], k: 1 });
    expect(found.json.results[0].id).toBe(5000);
    const notB = await s.call('POST', '/v1/collections/docs/search', keyB, { vector: [9, 9, 9, 9, 9, 9, 9, 9], k: 5 });
    expect(notB.json.results.map((h: { id: number }) => h.id)).not.toContain(5000);
    r = await s.call('POST', '/v1/collections/docs/points/delete', keyA, { ids: [5000] });
    expect(r.json).toEqual({ deleted: 1 });
    expect((await s.call('GET', '/v1/collections/docs/points/5000?tenant=acme')).status).toBe(404);
  });

  it('answers every error with its code and status from the one table, changing nothing', async () => {
    const probe = { vector: all[3].vector, k: 10 };
    const before = (await s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, probe)).json;
    const count = (await s.call('GET', '/v1/collections/docs')).json.points;
    const expectCode = async (p: Promise<{ status: number; json: any }>, code: keyof typeof ERROR_CODES, field?: string) => {
      const r = await p;
      expect(r.json?.error?.code, JSON.stringify(r.json)).toBe(code);
      expect(r.status).toBe(ERROR_CODES[code].status);
      if (field !== undefined) expect(r.json.error.field).toBe(field);
    };
    await expectCode(s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: [1, 2], k: 3 }), 'STRATA_DIMENSION_MISMATCH', 'body.vector');
    await expectCode(s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: all[0].vector, k: -1 }), 'STRATA_INVALID_REQUEST', 'k');
    await expectCode(s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: all[0].vector, k: 5000 }), 'STRATA_INVALID_REQUEST', 'k');
    await expectCode(s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: all[0].vector, tenant: 'acme', filter: { group: { $regex: 'x' } } }), 'STRATA_INVALID_FILTER', 'filter.group.$regex');
    await expectCode(s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: all[0].vector, filter: { group: 'g1' } }), 'STRATA_INVALID_FILTER', 'body.tenant');
    await expectCode(s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: all[0].vector, tenant: 'acme', filter: { group: 3 } }), 'STRATA_INVALID_FILTER', 'filter.group');
    await expectCode(s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, { vector: all[0].vector, tenant: 'nobody' }), 'STRATA_UNKNOWN_TENANT', 'tenant');
    await expectCode(s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: [{ id: 1, vector: [1] }] }), 'STRATA_DIMENSION_MISMATCH', 'points[0].vector');
    await expectCode(s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: [{ id: -1, vector: all[0].vector }] }), 'STRATA_INVALID_REQUEST', 'points[0].id');
    await expectCode(s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: [all[0], all[0]] }), 'STRATA_INVALID_ID');
    await expectCode(s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: [{ ...all[0], metadata: { group: 7 } }] }), 'STRATA_INVALID_ATTRIBUTE');
    await expectCode(s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: [] }), 'STRATA_INVALID_REQUEST', 'points');
    await expectCode(s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: Array.from({ length: 1001 }, (_, i) => ({ id: i, vector: all[0].vector })) }), 'STRATA_INVALID_REQUEST', 'points');
    await expectCode(s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'docs', dimension: 8 }), 'STRATA_COLLECTION_EXISTS', 'name');
    await expectCode(s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'bad name!', dimension: 8 }), 'STRATA_INVALID_REQUEST', 'name');
    await expectCode(s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'x2', dimension: 8, spec: 'NOPE' }), 'STRATA_INVALID_OPTION');
    await expectCode(s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'x3', dimension: 8, metric: 'hamming' }), 'STRATA_INVALID_REQUEST', 'metric');
    await expectCode(s.call('GET', '/v1/collections/missing'), 'STRATA_COLLECTION_NOT_FOUND', 'collection');
    await expectCode(s.call('GET', '/v1/collections/docs/points/123456'), 'STRATA_POINT_NOT_FOUND', 'id');
    await expectCode(s.call('GET', '/v1/collections/docs/points/abc'), 'STRATA_INVALID_REQUEST', 'id');
    await expectCode(s.call('DELETE', '/v1/keys/000000000000'), 'STRATA_KEY_NOT_FOUND', 'id');
    await expectCode(s.call('DELETE', '/v1/collections/docs/tenants/nobody'), 'STRATA_UNKNOWN_TENANT', 'tenant');
    await expectCode(s.call('GET', '/v2/nothing'), 'STRATA_ROUTE_NOT_FOUND');
    const raw = (payload: string, contentType = 'application/json') =>
      s.service.app.inject({ method: 'POST', url: '/v1/collections/docs/search', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': contentType }, payload }).then((r) => ({ status: r.statusCode, json: JSON.parse(r.body) }));
    await expectCode(raw('{"vector": [1, 2'), 'STRATA_INVALID_REQUEST', 'body');
    await expectCode(raw(`{"vector": [1e400, 0, 0, 0, 0, 0, 0, 0]}`), 'STRATA_INVALID_REQUEST', 'vector[0]'); // JSON's 1e400 parses to Infinity
    await expectCode(raw('vector=1', 'text/plain'), 'STRATA_UNSUPPORTED_MEDIA_TYPE');
    await expectCode(raw(JSON.stringify({ vector: all[0].vector, pad: 'x'.repeat(17 * 1024 * 1024) })), 'STRATA_PAYLOAD_TOO_LARGE');
    expect((await s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, probe)).json).toEqual(before);
    expect((await s.call('GET', '/v1/collections/docs')).json.points).toBe(count);
  });

  it('one real listen() on loopback', async () => {
    const t = await startService();
    try {
      const address = await t.service.app.listen({ port: 0, host: '127.0.0.1' });
      const h = await fetch(`${address}/healthz`);
      expect(await h.json()).toEqual({ status: 'ok' });
      const c = await fetch(`${address}/v1/collections`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'live', dimension: DIM }) });
      expect(c.status).toBe(201);
      const up = await fetch(`${address}/v1/collections/live/points`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ points: all.slice(0, 100) }) });
      expect(await up.json()).toEqual({ inserted: 100, replaced: 0, built: true });
      const r = await fetch(`${address}/v1/collections/live/search`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ vector: all[42].vector, k: 1 }) });
      expect((await r.json()).results[0].id).toBe(42);
    } finally {
      await t.cleanup();
    }
  }, 30_000);

  it('sheds load with 503 + Retry-After instead of queueing past the limit', async () => {
    const t = await startService({ maxPendingQueries: 4, retryAfterSeconds: 2 });
    try {
      await t.call('POST', '/v1/collections', ADMIN_KEY, { name: 'c', dimension: DIM });
      await t.call('POST', '/v1/collections/c/points', ADMIN_KEY, { points: all.slice(0, 200) });
      const searches = Array.from({ length: 5 }, (_, i) => ({ vector: all[i].vector, k: 3 }));
      const r = await t.call('POST', '/v1/collections/c/search/batch', ADMIN_KEY, { searches });
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('STRATA_OVERLOADED');
      expect(r.headers['retry-after']).toBe('2');
      // Concurrent single searches over the limit: some shed, the rest answered, none lost.
      const many = await Promise.all(Array.from({ length: 12 }, (_, i) => t.call('POST', '/v1/collections/c/search', ADMIN_KEY, { vector: all[i].vector, k: 1 })));
      const ok = many.filter((x) => x.status === 200);
      expect(ok.length).toBeGreaterThanOrEqual(4);
      expect(many.filter((x) => x.status === 503).length).toBe(12 - ok.length);
      for (const x of ok) expect(x.json.results).toHaveLength(1);
      const metrics = (await t.call('GET', '/metrics')).json;
      expect(metrics).toMatch(/strata_shed_total\{kind="search"\} [1-9]/);
    } finally {
      await t.cleanup();
    }
  }, 30_000);

  it('dropping a collection removes its keys and files; revoking a key locks it out', async () => {
    const t = await startService();
    try {
      await t.call('POST', '/v1/collections', ADMIN_KEY, { name: 'tmp', dimension: DIM });
      await t.call('POST', '/v1/collections/tmp/points', ADMIN_KEY, { points: all.slice(0, 50) });
      const k1 = (await t.call('POST', '/v1/keys', ADMIN_KEY, { collection: 'tmp', tenant: 'acme' })).json;
      const k2 = (await t.call('POST', '/v1/keys', ADMIN_KEY, { collection: 'tmp', tenant: 'globex' })).json;
      expect((await t.call('GET', '/v1/collections/tmp', k1.key)).status).toBe(200);
      expect((await t.call('DELETE', `/v1/keys/${k1.id}`)).json).toEqual({ status: 'revoked' });
      expect((await t.call('GET', '/v1/collections/tmp', k1.key)).status).toBe(401);
      const del = await t.call('DELETE', '/v1/collections/tmp/tenants/globex');
      expect(del.json).toEqual({ removed: 25, keysRevoked: 1 });
      expect((await t.call('GET', '/v1/collections/tmp', k2.key)).status).toBe(401);
      expect((await t.call('DELETE', '/v1/collections/tmp')).status).toBe(200);
      expect((await t.call('GET', '/v1/collections/tmp')).status).toBe(404);
      expect((await t.call('GET', '/v1/keys')).json.keys.filter((k: { collection?: string }) => k.collection === 'tmp')).toEqual([]);
    } finally {
      await t.cleanup();
    }
  }, 30_000);
});
