/** KV-cache routes through app.inject(): generate with retrieval and reuse, stats, chunk blobs, auth. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry } from '../src/kv/entry-codec.js';
import { startService, type TestService } from './server-helpers.js';

const STORIES = [
  { id: 'max', text: 'Once upon a time, there was a big dog named Max. Max liked to run in the park with his red ball.' },
  { id: 'mia', text: 'The little cat Mia sat on the mat. She was happy and warm in the sun all day.' },
  { id: 'tom', text: 'Tom had a toy boat. He played with it in the bath and it went round and round.' },
];

describe('KV-cache routes', () => {
  let s: TestService;
  let key: string;
  beforeAll(async () => {
    s = await startService({ embedThreads: 1, kvModel: 'stories260K' });
    await s.call('POST', '/v1/corpora', undefined, { name: 'tales' });
    key = (await s.call('POST', '/v1/keys', undefined, { corpus: 'tales', tenant: 'kids' })).json.key;
    expect((await s.call('POST', '/v1/corpora/tales/documents', key, { documents: STORIES })).status).toBe(200);
  });
  afterAll(() => s.cleanup());

  it('generates from retrieved passages, stores their caches, and reuses them the next time', async () => {
    const body = { query: 'The dog named Max', corpus: 'tales', k: 2, maxTokens: 8 };
    const first = await s.call('POST', '/v1/kv/generate', key, body);
    expect(first.status).toBe(200);
    expect(first.json.tokens.length).toBeGreaterThan(0);
    expect(first.json.tokens.length).toBeLessThanOrEqual(8);
    expect(typeof first.json.text).toBe('string');
    expect(first.json.passages).toHaveLength(2);
    expect(first.json.report).toMatchObject({ chunkMisses: 2, chunkHits: 0, chunkSources: ['computed', 'computed'] });
    // Without retrieval (the admin key, no corpus) the route still generates.
    expect((await s.call('POST', '/v1/kv/generate', undefined, { query: 'The dog named Max', maxTokens: 4, k: 0 })).status).toBe(200);
    const again = await s.call('POST', '/v1/kv/generate', key, body);
    expect(again.json.report.prefixReused).toBeGreaterThan(0); // the exact prefix (BOS + both passages) is cached now
    expect(again.json.tokens).toEqual(first.json.tokens);
    const stats = await s.call('GET', '/v1/kv/stats');
    expect(stats.json).toMatchObject({ model: 'stories260K', rerotation: true, scope: 'all', chunks: { disk: { entries: 2 } } });
    const blob = await s.call('GET', `/v1/kv/chunks/${first.json.passages[0].chunkKey}`);
    expect(blob.status).toBe(200);
    expect(blob.headers['content-type']).toBe('application/octet-stream');
    const raw = await s.service.app.inject({ method: 'GET', url: `/v1/kv/chunks/${first.json.passages[0].chunkKey}`, headers: { authorization: 'Bearer test-admin-key-0123456789abcdef' } });
    const entry = decodeEntry(raw.rawPayload);
    expect(entry.cache.layers).toBe(5);
    expect(entry.basePosition).toBe(1);
  });

  it('keys, scopes and bad input', async () => {
    expect((await s.call('POST', '/v1/kv/generate', null, { query: 'x' })).status).toBe(401);
    expect((await s.call('POST', '/v1/kv/generate', key, { query: 'x', corpus: 'tales', tenant: 'other' })).json.error.code).toBe('STRATA_FORBIDDEN');
    expect((await s.call('POST', '/v1/kv/generate', key, { query: 'x', tenant: 'kids' })).status).toBe(400);
    expect((await s.call('POST', '/v1/kv/generate', key, { query: 'x', strategy: 'magic' })).json.error.code).toBe('STRATA_INVALID_REQUEST');
    expect((await s.call('POST', '/v1/kv/generate', key, { query: 'x', fraction: 2 })).status).toBe(400);
    const own = await s.call('GET', '/v1/kv/stats', key); // a tenant key sees its own namespace
    expect(own.status).toBe(200);
    expect(own.json.scope).toBe('namespace');
    expect((await s.call('GET', '/v1/kv/chunks/not-a-key')).status).toBe(400);
    expect((await s.call('GET', `/v1/kv/chunks/${'0'.repeat(16)}:${'0'.repeat(16)}:${'0'.repeat(32)}`)).json.error.code).toBe('STRATA_KV_ENTRY_NOT_FOUND');
    expect((await s.call('GET', `/v1/kv/chunks/${'0'.repeat(16)}:${'0'.repeat(16)}:${'0'.repeat(32)}`, key)).status).toBe(403);
  });
});
