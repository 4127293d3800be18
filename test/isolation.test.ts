/**
 * Tenants observe nothing of each other (issue 26): the probes a tenant could run against the service
 * (ingest deduplication, KV cache reuse, point ids) answer the same whether another tenant holds the
 * guessed data or not; the admin's opt-in corpus sharing does share; and a seeded property test: every
 * field of one tenant's responses (timings aside) is unchanged when other tenants' calls are added.
 */
import { DEFAULT_MODEL_DIR } from '../src/rag/defaults.js';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvEngine, type AssemblyReport } from '../src/kv/engine.js';
import { builtinProfiles } from '../src/kv/profiles.js';
import { Corpus, type IngestReport, type RetrievalMode } from '../src/rag/corpus.js';
import { EmbedderPool } from '../src/rag/embedder-pool.js';
import { tempDir } from './helpers.js';
import { startService, type TestService } from './server-helpers.js';

const SECRET = 'Acme will acquire Globex for 4.2 billion dollars in March.';
const WRONG = 'Acme will acquire Globex for 5.1 billion dollars in March.';
const TIMING: Array<keyof AssemblyReport> = ['ttftMs', 'lookupMs', 'rotateMs', 'computeMs', 'probeMs', 'storeMs'];

/** A report without its timings (what must not depend on other tenants besides time). */
function untimed<T extends object>(r: T, fields: readonly string[]): Partial<T> {
  const out: Record<string, unknown> = { ...(r as Record<string, unknown>) };
  for (const f of fields) delete out[f];
  return out as Partial<T>;
}

describe('probes a tenant could run against the service', () => {
  let s: TestService;
  const keys: Record<string, string> = {};
  beforeAll(async () => {
    s = await startService({ embedThreads: 1, kvModel: 'stories260K' });
    for (const [corpus, sharing] of [['private', undefined], ['public', 'corpus']] as const) {
      expect((await s.call('POST', '/v1/corpora', undefined, { name: corpus, ...(sharing ? { sharing } : {}) })).status).toBe(201);
      for (const t of ['a', 'b', 'c', 'd']) keys[`${corpus}/${t}`] = (await s.call('POST', '/v1/keys', undefined, { corpus, tenant: t })).json.key;
    }
  });
  afterAll(() => s.cleanup());

  const ingest = async (corpus: string, tenant: string, id: string, text: string) => {
    const r = await s.call('POST', `/v1/corpora/${corpus}/documents`, keys[`${corpus}/${tenant}`], { documents: [{ id, text }] });
    expect(r.status).toBe(200);
    return untimed(r.json as IngestReport, ['seconds']);
  };
  const generate = async (corpus: string, tenant: string) => {
    const r = await s.call('POST', '/v1/kv/generate', keys[`${corpus}/${tenant}`], { query: 'What will Acme do?', corpus, k: 1, maxTokens: 6 });
    expect(r.status).toBe(200);
    return r.json as { tokens: number[]; report: AssemblyReport; passages: Array<{ chunkKey: string }> };
  };

  it('ingest is no oracle: a correct and a wrong guess of another tenant\'s passage get the same report', async () => {
    expect((await s.call('GET', '/v1/corpora/private')).json.sharing).toBe('tenant');
    await ingest('private', 'a', 'deal', SECRET);
    const right = await ingest('private', 'b', 'guess-1', SECRET);
    const wrong = await ingest('private', 'b', 'guess-2', WRONG);
    expect(right).toEqual(wrong);
    expect(right).toMatchObject({ chunksAdded: 1, chunksDeduplicated: 0, embedded: 1, index: 'updated' });
  });

  it('generate is no oracle: a tenant reuses nothing another tenant cached, and its report equals a first sighting', async () => {
    await ingest('private', 'c', 'deal', SECRET);
    const first = await generate('private', 'a'); // a caches the passage and the prefix
    const again = await generate('private', 'a');
    expect(again.report.prefixReused).toBeGreaterThan(0); // a's own second call does reuse
    const other = await generate('private', 'c'); // c: the same text, after a cached it
    expect(other.report).toMatchObject({ prefixReused: 0, chunkHits: 0, reusedTokens: 0 });
    expect(untimed(other.report, TIMING)).toEqual(untimed(first.report, TIMING));
    expect(other.tokens).toEqual(first.tokens);
    expect(other.passages[0].chunkKey).not.toBe(first.passages[0].chunkKey);
    // Stats of a tenant key are its own namespace's: c has looked up once and hit nothing.
    const stats = await s.call('GET', '/v1/kv/stats', keys['private/c']);
    expect(stats.json).toMatchObject({ scope: 'namespace', chunks: { lookups: 1, misses: 1, disk: { entries: 1 } }, prefixes: { disk: { entries: 1 } } });
    expect(stats.json.chunks.namespaces).toBeUndefined();
    expect((await s.call('GET', '/v1/kv/stats')).json.chunks.namespaces).toBeGreaterThanOrEqual(2);
  });

  it('point ids and searches are no oracle: the same answers whether or not another tenant wrote first', async () => {
    expect((await s.call('POST', '/v1/collections', undefined, { name: 'iso', dimension: 4 })).status).toBe(201);
    for (const t of ['x', 'y']) keys[`iso/${t}`] = (await s.call('POST', '/v1/keys', undefined, { collection: 'iso', tenant: t })).json.key;
    const search = (t: string) => s.call('POST', '/v1/collections/iso/search', keys[`iso/${t}`], { vector: [1, 2, 3, 4], k: 3 });
    const upsert = (t: string, id: number, v: number[]) => s.call('POST', '/v1/collections/iso/points', keys[`iso/${t}`], { points: [{ id, vector: v }] });
    const before = await search('x'); // nothing in the collection yet
    expect(await upsert('y', 4, [1, 2, 3, 4])).toMatchObject({ status: 200, json: { inserted: 1, replaced: 0 } }); // builds the index
    const after = await search('x'); // the collection has an index now, x still holds nothing
    expect(after).toMatchObject({ status: before.status, json: before.json });
    expect(after.json).toEqual({ results: [] });
    const held = await upsert('x', 4, [1, 2, 3, 5]); // id 4 is y's too
    const unused = await upsert('x', 5, [1, 2, 3, 6]);
    expect(held.json).toEqual(unused.json);
    expect((await search('x')).json.results).toEqual([
      { id: 4, tenant: 'x', distance: 1 },
      { id: 5, tenant: 'x', distance: 4 },
    ]);
    expect((await s.call('GET', '/v1/collections/iso/points/4?vector=true', keys['iso/y'])).json.vector).toEqual([1, 2, 3, 4]);
  });

  it('metadata attributes are no oracle: names and types are per tenant', async () => {
    const upsert = (t: string, id: number, metadata: Record<string, unknown>) => s.call('POST', '/v1/collections/iso/points', keys[`iso/${t}`], { points: [{ id, vector: [4, 3, 2, 1], metadata }] });
    const search = (t: string, filter: unknown) => s.call('POST', '/v1/collections/iso/search', keys[`iso/${t}`], { vector: [4, 3, 2, 1], k: 5, filter });
    expect((await upsert('y', 10, { price: 'high', lang: 'en' })).status).toBe(200);
    // x may give "price" another type: y's schema is not x's.
    expect(await upsert('x', 10, { price: 5 })).toMatchObject({ status: 200, json: { inserted: 1, replaced: 0 } });
    // A filter on y's attribute, or with y's type, is what it would be on a name nobody uses.
    const onLang = await search('x', { lang: 'en' });
    const onNothing = await search('x', { nothing: 'en' });
    expect(onLang).toMatchObject({ status: 200, json: { results: [] } });
    expect(onLang.json).toEqual(onNothing.json);
    expect((await search('x', { price: 5 })).json.results).toEqual([{ id: 10, tenant: 'x', distance: 0 }]);
    expect((await search('y', { price: 'high' })).json.results).toEqual([{ id: 10, tenant: 'y', distance: 0 }]);
    // A type error names the caller's own attribute as it wrote it.
    const bad = await search('x', { price: 'cheap' });
    expect(bad).toMatchObject({ status: 400, json: { error: { code: 'STRATA_INVALID_FILTER', field: 'filter.price' } } });
    expect(bad.json.error.message).toMatch(/^STRATA_INVALID_FILTER: filter\.price compares a number attribute/);
    const conflict = await upsert('x', 11, { price: 'cheap' });
    expect(conflict).toMatchObject({ status: 400, json: { error: { code: 'STRATA_INVALID_ATTRIBUTE', field: 'points[0].metadata.price' } } });
    expect(conflict.json.error.message).not.toMatch(/[0-9a-f]{16}:/);
  });

  it('the admin\'s opt-in (sharing "corpus") shares deduplication and KV caches across the corpus\'s tenants', async () => {
    expect((await s.call('GET', '/v1/corpora/public')).json.sharing).toBe('corpus');
    expect((await s.call('GET', '/v1/corpora')).json.corpora.find((c: { name: string }) => c.name === 'public').sharing).toBe('corpus');
    await ingest('public', 'a', 'deal', SECRET);
    expect(await ingest('public', 'b', 'guess-1', SECRET)).toMatchObject({ chunksDeduplicated: 1, embedded: 0 });
    expect(await ingest('public', 'b', 'guess-2', WRONG)).toMatchObject({ chunksDeduplicated: 0, embedded: 1 });
    const first = await generate('public', 'a');
    const other = await generate('public', 'b');
    expect(other.passages[0].chunkKey).toBe(first.passages[0].chunkKey);
    expect(other.report.prefixReused + other.report.chunkHits).toBeGreaterThan(0);
  });
});

describe('one tenant\'s responses do not depend on other tenants\' calls (seeded property)', () => {
  const SENTENCES = [ // few, so tenants' texts collide
    SECRET,
    WRONG,
    'The little dog ran to the park with a red ball.',
    'Mia the cat slept in the warm sun all day long.',
    'Tom sailed his toy boat across the bath.',
    'A big storm came and the river rose over the road.',
    'The market fell when prices of oil went up.',
    'Stars shine at night far above the quiet town.',
  ];
  type Op =
    | { kind: 'ingest'; tenant: string; doc: string; texts: number[] }
    | { kind: 'remove'; tenant: string; doc: string }
    | { kind: 'retrieve'; tenant: string; query: number; mode: RetrievalMode }
    | { kind: 'generate'; tenant: string; query: number };
  const opOf = (tenant: string) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('ingest' as const), tenant: fc.constant(tenant), doc: fc.constantFrom('d1', 'd2', 'd3'), texts: fc.array(fc.nat(SENTENCES.length - 1), { minLength: 1, maxLength: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), tenant: fc.constant(tenant), doc: fc.constantFrom('d1', 'd2', 'd3') }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('retrieve' as const), tenant: fc.constant(tenant), query: fc.nat(SENTENCES.length - 1), mode: fc.constantFrom<RetrievalMode>('dense', 'bm25', 'hybrid') }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('generate' as const), tenant: fc.constant(tenant), query: fc.nat(SENTENCES.length - 1) }) },
    );
  const scenario = fc
    .record({
      own: fc.array(opOf('me'), { minLength: 3, maxLength: 7 }),
      others: fc.array(fc.oneof(opOf('u'), opOf('v')), { minLength: 2, maxLength: 10 }),
      order: fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
    })
    .map(({ own, others, order }) => {
      // Tenant u makes every call of "me" just before it (the strongest probe of deduplication and
      // cache oracles: the same texts, the same questions, first), and u and v make random calls of
      // their own in between.
      const mixed: Op[] = [];
      let r = 0;
      own.forEach((op, k) => {
        if (order[2 * k] && r < others.length) mixed.push(others[r++]);
        mixed.push({ ...op, tenant: 'u' });
        if (order[2 * k + 1] && r < others.length) mixed.push(others[r++]);
        mixed.push(op);
      });
      mixed.push(...others.slice(r));
      return { own: own as Op[], mixed };
    });

  let pool: EmbedderPool;
  const tmp = tempDir('isolation');
  let run = 0;
  beforeAll(async () => {
    pool = await EmbedderPool.load(DEFAULT_MODEL_DIR, {}, { threads: 1 });
  });
  afterAll(async () => {
    await pool.close();
    tmp.cleanup();
  });

  /** Replay `ops`; return what tenant "me" was answered, timings left out. */
  async function replay(ops: Op[]): Promise<unknown[]> {
    const dir = join(tmp.dir, `run-${run++}`);
    const corpus = await Corpus.open(join(dir, 'corpus'), { model: pool, chunk: { maxTokens: 24, overlapTokens: 4 }, rebuildGrowth: 2 });
    const engine = await KvEngine.open(builtinProfiles().stories260K, join(dir, 'kv'));
    const seen: unknown[] = [];
    try {
      for (const op of ops) {
        let out: unknown;
        try {
          out = await call(op);
        } catch (e) {
          out = { error: (e as { code?: string }).code ?? String(e) };
        }
        if (op.tenant === 'me') seen.push(out);
      }
    } finally {
      await engine.close();
      await corpus.close();
    }
    return seen;

    async function call(op: Op): Promise<unknown> {
        let out: unknown;
        if (op.kind === 'ingest') {
          out = untimed(await corpus.ingest([{ id: op.doc, text: op.texts.map((i) => SENTENCES[i]).join(' ') }], { tenant: op.tenant }), ['seconds']);
        } else if (op.kind === 'remove') {
          out = await corpus.removeDocuments([op.doc], { tenant: op.tenant });
        } else if (!corpus.tenants().includes(op.tenant)) {
          out = 'no documents';
        } else if (op.kind === 'retrieve') {
          out = await corpus.retrieve(SENTENCES[op.query], { tenant: op.tenant, mode: op.mode, k: 3 });
        } else {
          const passages = (await corpus.retrieve(SENTENCES[op.query], { tenant: op.tenant, k: 2 })).map((p) => p.text);
          const a = await engine.assemble(engine.encodePrompt({ passages, question: 'What happened?' }), { namespace: corpus.kvNamespace(op.tenant) });
          out = { report: untimed(a.report, TIMING), tokens: await engine.generate(a, { maxTokens: 4 }) };
        }
        return out;
    }
  }

  it('holds over random tenants, texts and call orders', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ own, mixed }) => {
        expect(await replay(mixed)).toEqual(await replay(own));
      }),
      { seed: 26, numRuns: 12 },
    );
  }, 120_000);
});
