/** The RAG routes through app.inject(): corpora, ingest, retrieve, documents; tenant keys; bad input. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from './server-helpers.js';

const DOCS_A = [
  { id: 'a1', title: 'Zebrafish', text: 'The zebrafish heart regenerates after injury. Cardiac muscle cells divide again.' },
  { id: 'a2', text: 'Vaccines train the immune system to recognise a virus before infection.', metadata: { topic: 'immunology' } },
];
const DOCS_B = [{ id: 'b1', text: 'The zebrafish genome was sequenced. Tenant beta keeps its own notes on zebrafish.' }];

describe('RAG routes', () => {
  let s: TestService;
  let keyA: string;
  let keyB: string;
  let collectionKey: string;
  beforeAll(async () => {
    s = await startService({ embedThreads: 1 });
    expect((await s.call('POST', '/v1/corpora', undefined, { name: 'notes', chunkTokens: 64, overlapTokens: 8 })).status).toBe(201);
    keyA = (await s.call('POST', '/v1/keys', undefined, { corpus: 'notes', tenant: 'alpha' })).json.key;
    keyB = (await s.call('POST', '/v1/keys', undefined, { corpus: 'notes', tenant: 'beta' })).json.key;
    await s.call('POST', '/v1/collections', undefined, { name: 'vectors', dimension: 8 });
    collectionKey = (await s.call('POST', '/v1/keys', undefined, { collection: 'vectors', tenant: 'alpha' })).json.key;
  });
  afterAll(() => s.cleanup());

  it('ingests with a tenant key into its own tenant and retrieves passages with document metadata', async () => {
    const r = await s.call('POST', '/v1/corpora/notes/documents', keyA, { documents: DOCS_A });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ documents: 2, chunksAdded: 2, embedded: 2, index: 'updated' });
    expect((await s.call('POST', '/v1/corpora/notes/documents', keyB, { documents: DOCS_B })).status).toBe(200);
    const hit = await s.call('POST', '/v1/corpora/notes/retrieve', keyA, { query: 'zebrafish heart', k: 5 });
    expect(hit.status).toBe(200);
    expect(hit.json.passages[0]).toMatchObject({ document: { id: 'a1', title: 'Zebrafish' }, documents: ['a1'] });
    expect(hit.json.passages.every((p: { document: { id: string } }) => p.document.id.startsWith('a'))).toBe(true);
    const imm = await s.call('POST', '/v1/corpora/notes/retrieve', keyA, { query: 'immune virus', mode: 'bm25', k: 1 });
    expect(imm.json.passages[0].document).toMatchObject({ id: 'a2', metadata: { topic: 'immunology' } });
    const doc = await s.call('GET', '/v1/corpora/notes/documents/a1', keyA);
    expect(doc.status).toBe(200);
    expect(doc.json.chunks).toHaveLength(1);
    // The batch route answers each question as the single route does, in order.
    const questions = ['zebrafish heart', 'immune virus', 'heart regeneration in fish'];
    for (const mode of ['dense', 'bm25', 'hybrid']) {
      const batch = await s.call('POST', '/v1/corpora/notes/retrieve/batch', keyA, { queries: questions, mode, k: 2 });
      expect(batch.status).toBe(200);
      const singles = await Promise.all(questions.map((query) => s.call('POST', '/v1/corpora/notes/retrieve', keyA, { query, mode, k: 2 })));
      expect(batch.json.results).toEqual(singles.map((x) => x.json.passages));
    }
  });

  it('a tenant key never reads or writes outside its tenant or corpus', async () => {
    for (const mode of ['dense', 'bm25', 'hybrid']) {
      const r = await s.call('POST', '/v1/corpora/notes/retrieve', keyB, { query: 'zebrafish heart regenerates', mode, k: 10 });
      expect(r.status).toBe(200);
      for (const p of r.json.passages) expect(p.document.id).toBe('b1');
    }
    expect((await s.call('POST', '/v1/corpora/notes/retrieve', keyB, { query: 'x', tenant: 'alpha' })).json.error.code).toBe('STRATA_FORBIDDEN');
    expect((await s.call('POST', '/v1/corpora/notes/retrieve/batch', keyB, { queries: ['x'], tenant: 'alpha' })).json.error.code).toBe('STRATA_FORBIDDEN');
    const batchB = await s.call('POST', '/v1/corpora/notes/retrieve/batch', keyB, { queries: ['zebrafish heart', 'immune virus'], mode: 'hybrid', k: 10 });
    for (const passages of batchB.json.results) for (const p of passages) expect(p.document.id).toBe('b1');
    expect((await s.call('POST', '/v1/corpora/notes/documents', keyB, { tenant: 'alpha', documents: DOCS_A })).status).toBe(403);
    expect((await s.call('GET', '/v1/corpora/notes/documents/a1', keyB)).json.error.code).toBe('STRATA_DOCUMENT_NOT_FOUND');
    expect((await s.call('DELETE', '/v1/corpora/notes/documents/a1', keyB)).json.error.code).toBe('STRATA_DOCUMENT_NOT_FOUND');
    expect((await s.call('POST', '/v1/corpora/notes/retrieve', collectionKey, { query: 'x' })).status).toBe(403);
    expect((await s.call('POST', '/v1/collections/vectors/search', keyA, { vector: [1, 2, 3, 4, 5, 6, 7, 8] })).status).toBe(403);
    expect((await s.call('POST', '/v1/corpora', keyA, { name: 'mine' })).status).toBe(403);
    expect((await s.call('GET', '/v1/corpora', keyA)).status).toBe(403);
    expect((await s.call('POST', '/v1/corpora/notes/retrieve', null, { query: 'x' })).status).toBe(401);
    expect((await s.call('POST', '/v1/corpora/notes/retrieve', 'sk_000000000000_' + 'x'.repeat(43), { query: 'x' })).status).toBe(401);
    // alpha's document is still there and unchanged.
    expect((await s.call('GET', '/v1/corpora/notes/documents/a1', keyA)).status).toBe(200);
  });

  it('bad input is a 4xx with a code and changes nothing', async () => {
    const before = (await s.call('GET', '/v1/corpora/notes')).json;
    const bad: Array<[unknown, string]> = [
      [{ documents: [] }, 'STRATA_INVALID_REQUEST'],
      [{ documents: [{ id: 'x' }] }, 'STRATA_INVALID_REQUEST'],
      [{ documents: [{ id: 'x', text: '   ' }] }, 'STRATA_INVALID_DOCUMENT'],
      [{ documents: [{ id: 'x', text: 'a', extra: 1 }] }, 'STRATA_INVALID_REQUEST'],
      [{ documents: [{ id: 'd', text: 'a' }, { id: 'd', text: 'b' }] }, 'STRATA_INVALID_DOCUMENT'],
    ];
    for (const [body, code] of bad) {
      const r = await s.call('POST', '/v1/corpora/notes/documents', keyA, body);
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe(code);
    }
    for (const body of [{ query: '' }, { query: 'x', k: 0 }, { query: 'x', mode: 'magic' }, { query: 'x', weights: { dense: -1 } }, { query: 7 }]) {
      const r = await s.call('POST', '/v1/corpora/notes/retrieve', keyA, body);
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe('STRATA_INVALID_REQUEST');
    }
    expect((await s.call('POST', '/v1/corpora/nope/retrieve', undefined, { query: 'x' })).json.error.code).toBe('STRATA_CORPUS_NOT_FOUND');
    expect((await s.call('POST', '/v1/corpora', undefined, { name: 'notes' })).json.error.code).toBe('STRATA_CORPUS_EXISTS');
    expect((await s.call('POST', '/v1/corpora', undefined, { name: 'x', chunkTokens: 16, overlapTokens: 16 })).json.error.code).toBe('STRATA_INVALID_OPTION');
    expect((await s.call('POST', '/v1/keys', undefined, { corpus: 'notes', collection: 'vectors', tenant: 't' })).status).toBe(400);
    expect((await s.call('POST', '/v1/corpora/notes/retrieve', undefined, { query: 'x', tenant: 'gamma' })).json.error.code).toBe('STRATA_UNKNOWN_TENANT');
    expect((await s.call('GET', '/v1/corpora/notes')).json).toEqual(before);
  });

  it('removes a document, and dropping the corpus revokes its keys', async () => {
    expect((await s.call('DELETE', '/v1/corpora/notes/documents/a2', keyA)).json).toEqual({ removed: 1 });
    const r = await s.call('POST', '/v1/corpora/notes/retrieve', keyA, { query: 'immune virus vaccines', mode: 'bm25' });
    expect(r.json.passages.some((p: { document: { id: string } }) => p.document.id === 'a2')).toBe(false);
    expect((await s.call('DELETE', '/v1/corpora/notes')).status).toBe(200);
    expect((await s.call('POST', '/v1/corpora/notes/retrieve', keyA, { query: 'x' })).status).toBe(401);
    expect((await s.call('GET', '/v1/corpora')).json.corpora).toEqual([]);
  });
});
