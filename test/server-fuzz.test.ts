/**
 * Fuzzed request bodies (fast-check, seeded): random JSON, malformed text, and valid bodies with one
 * field broken (wrong type, NaN spelled as text, Infinity, huge arrays, negative or fractional
 * numbers). Every answer is a 4xx carrying a code from the table; the service stays up and the
 * stored data is unchanged (point count and the answers to fixed searches).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';
import { ADMIN_KEY, DIM, points, startService, type TestService } from './server-helpers.js';

const WRITE_ROUTES = [
  { method: 'POST', url: '/v1/collections/docs/points' },
  { method: 'POST', url: '/v1/collections/docs/points/delete' },
  { method: 'POST', url: '/v1/collections' },
  { method: 'POST', url: '/v1/keys' },
] as const;
const READ_ROUTES = [
  { method: 'POST', url: '/v1/collections/docs/search' },
  { method: 'POST', url: '/v1/collections/docs/search/batch' },
] as const;

const broken = fc.oneof(
  fc.constant(null),
  fc.constant('NaN'),
  fc.constant(-1),
  fc.constant(1.5),
  fc.constant(2 ** 32),
  fc.constant(''),
  fc.constant({}),
  fc.constant([]),
  fc.string({ maxLength: 300 }),
  fc.array(fc.oneof(fc.double(), fc.string()), { maxLength: 20 }),
  fc.constant(Array.from({ length: 5000 }, () => 0.5)),
  fc.constant({ $regex: '.*' }),
);

/** Make sure a mutated field is really invalid (a random value may happen to be a valid one). */
function invalidFor(field: string, value: unknown): unknown {
  if ((field === 'vector') && Array.isArray(value)) return [...value, 'x'];
  if ((field === 'metadata' || field === 'params') && value !== null && typeof value === 'object' && !Array.isArray(value)) return field === 'params' ? { maxLists: 0 } : { nested: { x: 1 } };
  if (field === 'metadata' && typeof value === 'string') return value; // a string is not an object
  return value;
}

describe('HTTP service under fuzzed bodies', () => {
  let s: TestService;
  const stored = points(300, 11, ['acme', 'globex']);
  // Every list read (300 points have ~24): the answers are exact, so they show the stored data
  // whatever generation of the index answers (a background rebuild measures its own recall budget).
  const probes = [0, 100, 200].map((i) => ({ vector: stored[i].vector, k: 10, params: { maxLists: 1000 } }));
  let snapshot: unknown;

  const state = async () => ({
    count: (await s.call('GET', '/v1/collections/docs')).json.points,
    answers: await Promise.all(probes.map(async (p) => (await s.call('POST', '/v1/collections/docs/search', ADMIN_KEY, p)).json)),
    collections: (await s.call('GET', '/v1/collections')).json.collections.length,
    keys: (await s.call('GET', '/v1/keys')).json.keys.length,
  });

  beforeAll(async () => {
    s = await startService({ bodyLimit: 64 * 1024, maxBatchPoints: 50, maxBatchQueries: 8, maxK: 100 });
    await s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'docs', dimension: DIM });
    await s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: stored.slice(0, 50) });
    for (let i = 50; i < 300; i += 50) await s.call('POST', '/v1/collections/docs/points', ADMIN_KEY, { points: stored.slice(i, i + 50) });
    snapshot = await state();
  }, 60_000);

  afterAll(async () => {
    await s?.cleanup();
  });

  const expectCoded4xx = (r: { status: number; json: any }, what: string) => {
    expect(r.status, what).toBeGreaterThanOrEqual(400);
    expect(r.status, what).toBeLessThan(500);
    expect(Object.keys(ERROR_CODES), what).toContain(r.json?.error?.code);
  };

  it('random JSON values and malformed text: always a coded 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...WRITE_ROUTES, ...READ_ROUTES), fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 200 })), fc.boolean(), async (route, body, asText) => {
        const payload = asText && typeof body === 'string' ? body : JSON.stringify(body);
        const res = await s.service.app.inject({ method: route.method, url: route.url, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, payload });
        let json: unknown;
        try {
          json = JSON.parse(res.body);
        } catch {
          json = undefined;
        }
        expectCoded4xx({ status: res.statusCode, json }, `${route.url} ${payload.slice(0, 80)}`);
      }),
      { seed: 20261122, numRuns: 300 },
    );
  }, 120_000);

  it('valid bodies with one field broken: always a coded 4xx', async () => {
    const pointFields = ['id', 'vector', 'tenant', 'metadata'] as const;
    const bodies = fc.oneof(
      fc.tuple(fc.constantFrom(...pointFields), broken).map(([field, value]) => ({
        url: '/v1/collections/docs/points',
        body: { points: [{ id: 9999, vector: stored[0].vector, tenant: 'acme', [field]: field === 'tenant' && typeof value === 'string' && value.length > 0 && value.length <= 128 ? 1 : invalidFor(field, value) }] },
      })),
      broken.map((value) => ({ url: '/v1/collections/docs/points', body: { points: value } })),
      broken.map((value) => ({ url: '/v1/collections/docs/points/delete', body: { ids: value === null || Array.isArray(value) ? [value ?? -1, 'x'] : value } })),
      fc.tuple(fc.constantFrom('vector', 'k', 'tenant', 'filter', 'params'), broken).map(([field, value]) => ({
        url: '/v1/collections/docs/search',
        body: { vector: stored[0].vector, k: 5, [field]: field === 'tenant' || field === 'filter' ? (typeof value === 'string' ? value + '\u0000unknown' : field === 'filter' ? { $bad: value } : 7) : invalidFor(field, value) },
      })),
      fc.tuple(fc.constantFrom('name', 'dimension', 'metric', 'spec'), broken).map(([field, value]) => ({
        url: '/v1/collections',
        body: { name: 'fresh', dimension: 8, [field]: field === 'spec' ? `${String(value)},NOPE` : field === 'name' && typeof value === 'string' ? `${value} !` : value },
      })),
      fc.integer({ min: 101, max: 1e9 }).map((k) => ({ url: '/v1/collections/docs/search', body: { vector: stored[0].vector, k: -k } })),
      fc.nat({ max: 200 }).map((n) => ({ url: '/v1/collections/docs/search/batch', body: { searches: Array.from({ length: 9 + n }, () => ({ vector: stored[0].vector })) } })),
      fc.constant({ url: '/v1/collections/docs/points', body: { points: Array.from({ length: 2000 }, (_, i) => ({ id: i, vector: stored[0].vector })) } }),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async ({ url, body }) => {
        const r = await s.call('POST', url, ADMIN_KEY, body);
        expectCoded4xx(r, `${url} ${JSON.stringify(body).slice(0, 120)}`);
      }),
      { seed: 7, numRuns: 300 },
    );
  }, 120_000);

  it('is still up and nothing changed', async () => {
    expect((await s.call('GET', '/healthz', null)).status).toBe(200);
    expect(await state()).toEqual(snapshot);
  });
});
