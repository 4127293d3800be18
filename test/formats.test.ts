/**
 * On-disk formats that changed with tenant isolation: a store written in the older format is
 * migrated at open (corpus passages, collection points) and answers exactly as before.
 */
import { DEFAULT_MODEL_DIR } from '../src/rag/defaults.js';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex, type SpannIndex } from '../src/index/spann.js';
import { Corpus } from '../src/rag/corpus.js';
import { FORMAT_VERSION } from '../src/storage/index-store.js';
import { EmbedderPool } from '../src/rag/embedder-pool.js';
import { PASSAGES_FILE, PASSAGES_FORMAT } from '../src/rag/passage-store.js';
import { ChunkKvStore, KV_STORE_FORMAT } from '../src/kv/chunk-store.js';
import { POINTS_FILE, PointStore } from '../src/server/point-store.js';
import { buildService, type Service } from '../src/server/app.js';
import { resolveConfig } from '../src/server/config.js';
import { tempDir } from './helpers.js';
import { ADMIN_KEY, DIM, points } from './server-helpers.js';

describe('format migrations', () => {
  const tmp = tempDir('formats');
  let pool: EmbedderPool;
  beforeAll(async () => {
    pool = await EmbedderPool.load(DEFAULT_MODEL_DIR, {}, { threads: 1 });
  });
  afterAll(async () => {
    await pool.close();
    tmp.cleanup();
  });

  it('index fixtures of every format open (format 5 migrated: no stored threads, explicit splitFactor) and answer as recorded', async () => {
    for (const format of [5, 6, 7, 8]) {
      const fixture = fileURLToPath(new URL(`./fixtures/formats/index-v${format}`, import.meta.url));
      const expected = JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as { queries: number[][]; all: number[][]; acmeBlue: number[][] };
      const dir = join(tmp.dir, `index-v${format}`);
      cpSync(fixture, dir, { recursive: true });
      const check = (index: SpannIndex) => {
        expected.queries.forEach((q, i) => {
          expect(Array.from(index.search(q, 5, { maxLists: 64 }).ids)).toEqual(expected.all[i]);
          expect(Array.from(index.search(q, 3, { tenant: 'acme', filter: { color: 'blue' }, maxLists: 64 }).ids)).toEqual(expected.acmeBlue[i]);
        });
      };
      const ro = await openIndex(dir, { readOnly: true }); // migrated in memory, nothing written
      check(ro);
      // Format 8 stores the recall curve of its build; older indexes have none (fixed default budget).
      if (format >= 8) expect(ro.recallCurve()!.points.length).toBeGreaterThan(0);
      else expect([ro.recallCurve(), ro.budgetFor(0.95)]).toEqual([null, 32]);
      expect(ro.options).not.toHaveProperty('threads');
      await ro.close();
      const rw = await openIndex(dir); // migrated and written
      check(rw);
      expect(rw.stats().formatVersion).toBe(FORMAT_VERSION);
      expect(rw.options.splitFactor).toBe(1.5);
      await rw.close();
      const again = await openIndex(dir, { readOnly: true, threads: 1 });
      check(again);
      expect(again.options).not.toHaveProperty('threads');
      expect(again.runtime.threads).toBe(1);
      await again.close();
    }
    // A format this build does not read is refused with a coded error naming it and what to do.
    const future = join(tmp.dir, 'index-future');
    cpSync(fileURLToPath(new URL('./fixtures/formats/index-v6', import.meta.url)), future, { recursive: true });
    const root = open({ path: join(future, 'strata.mdb'), maxDbs: 16 });
    const metaDb = root.openDB({ name: 'meta' });
    await metaDb.put('meta', { ...(metaDb.get('meta') as object), formatVersion: 99 });
    await root.close();
    await expect(openIndex(future)).rejects.toMatchObject({ code: 'STRATA_FORMAT_VERSION', message: expect.stringMatching(/format 99.*rebuild it/) });
  });

  it('the corpus and KV store fixtures of the current formats open and answer as recorded', async () => {
    const corpusDir = join(tmp.dir, 'corpus-fixture');
    cpSync(fileURLToPath(new URL(`./fixtures/formats/corpus-v${PASSAGES_FORMAT}`, import.meta.url)), corpusDir, { recursive: true });
    const expected = JSON.parse(readFileSync(join(corpusDir, 'expected.json'), 'utf8')) as { acme: string[]; globex: string[] };
    const corpus = await Corpus.open(corpusDir, { model: pool });
    try {
      expect((await corpus.retrieve('heart injury', { tenant: 'acme', k: 2 })).map((p) => p.document.id)).toEqual(expected.acme);
      expect((await corpus.retrieve('river drought', { tenant: 'globex', k: 1 })).map((p) => p.document.id)).toEqual(expected.globex);
      expect(corpus.sharing).toBe('tenant');
    } finally {
      await corpus.close();
    }
    const kvDir = join(tmp.dir, 'kv-fixture');
    cpSync(fileURLToPath(new URL(`./fixtures/formats/kv-v${KV_STORE_FORMAT}`, import.meta.url)), kvDir, { recursive: true });
    const kv = JSON.parse(readFileSync(join(kvDir, 'expected.json'), 'utf8')) as { key: string; tokens: number[]; otherNamespace: string };
    const store = ChunkKvStore.open(kvDir);
    try {
      expect(Array.from(store.get(kv.key)?.tokens ?? [])).toEqual(kv.tokens);
      expect(store.get(kv.otherNamespace)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('a format-1 corpus (texts shared by hash across tenants) opens migrated to per-tenant texts, answering the same', async () => {
    const dir = join(tmp.dir, 'corpus');
    const text = 'Vaccines train the immune system to recognise a virus.';
    let corpus = await Corpus.open(dir, { model: pool });
    await corpus.ingest([{ id: 'a', text }, { id: 'b', text: 'Rainfall and drought shape the river.' }]);
    await corpus.ingest([{ id: 'x', text }], { tenant: 'other' });
    const before = [await corpus.retrieve('immune virus', { k: 2 }), await corpus.retrieve('immune virus', { k: 2, tenant: 'other' })];
    await corpus.close();
    // Rewrite it as format 1 wrote it: texts and vectors under the bare hash, counted over tenants.
    const root = open({ path: join(dir, PASSAGES_FILE), maxDbs: 12 });
    const texts = root.openDB<{ x: string; r: number }, string>({ name: 'texts' });
    const vectors = root.openDB({ name: 'vectors', encoding: 'binary' });
    const meta = root.openDB({ name: 'meta' });
    await root.transaction(() => {
      for (const { key, value } of [...texts.getRange()]) {
        const hash = key.slice(key.indexOf('\0') + 1);
        texts.put(hash, { x: value.x, r: (texts.get(hash)?.r ?? 0) + value.r });
        vectors.put(hash, Buffer.from(vectors.get(key) as Buffer));
        texts.remove(key);
        vectors.remove(key);
      }
      for (const k of ['format', 'sharing', 'id']) meta.remove(k);
    });
    await root.close();
    corpus = await Corpus.open(dir, { model: pool });
    try {
      expect(corpus.sharing).toBe('tenant');
      expect(corpus.stats().texts).toBe(3); // the shared text is now one copy per tenant
      expect(corpus.store.getMeta('format')).toBe(PASSAGES_FORMAT);
      expect([await corpus.retrieve('immune virus', { k: 2 }), await corpus.retrieve('immune virus', { k: 2, tenant: 'other' })]).toEqual(before);
      await corpus.removeDocuments(['a']);
      expect((await corpus.retrieve('immune virus', { k: 1, tenant: 'other', mode: 'dense' }))[0].text).toBe(text);
    } finally {
      await corpus.close();
    }
  });

  it('a format-1 collection reopens in the service with its ids in their tenants and its index rebuilt (attributes per tenant)', async () => {
    const dataDir = join(tmp.dir, 'service');
    const config = resolveConfig({ dataDir, adminKey: ADMIN_KEY, searchThreads: 1, logLevel: 'silent' }, {});
    const call = async (svc: Service, method: string, url: string, body?: unknown) => {
      const r = await svc.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${ADMIN_KEY}` }, ...(body !== undefined ? { payload: body as object } : {}) });
      return { status: r.statusCode, json: JSON.parse(r.body) };
    };
    const pts = points(300, 5, ['acme', 'globex']);
    let svc = await buildService(config, { logger: false });
    await call(svc, 'POST', '/v1/collections', { name: 'old', dimension: DIM });
    expect((await call(svc, 'POST', '/v1/collections/old/points', { points: pts })).status).toBe(200);
    const generation = (await call(svc, 'GET', '/v1/collections/old')).json.generation;
    await svc.close();
    // Back to format 1: points keyed by the client's id (labels were allocated in id order here).
    const root = open({ path: join(dataDir, 'collections', 'old', POINTS_FILE), maxDbs: 6 });
    await root.transaction(() => {
      for (const name of ['ids', 'labels']) root.openDB({ name }).clearSync();
      const meta = root.openDB({ name: 'meta' });
      meta.remove('format');
      meta.remove('nextLabel');
    });
    await root.close();
    svc = await buildService(config, { logger: false });
    try {
      const stats = (await call(svc, 'GET', '/v1/collections/old')).json;
      expect(stats).toMatchObject({ points: 300, generation: generation + 1 });
      const p = pts[7];
      expect((await call(svc, 'GET', `/v1/collections/old/points/${p.id}?tenant=${p.tenant}`)).json).toMatchObject({ id: p.id, tenant: p.tenant, metadata: p.metadata });
      const hit = await call(svc, 'POST', '/v1/collections/old/search', { vector: p.vector, k: 1, tenant: p.tenant, filter: { group: p.metadata.group } });
      expect(hit.json.results).toEqual([{ id: p.id, tenant: p.tenant, distance: 0 }]);
      expect(readdirSync(join(dataDir, 'collections', 'old')).filter((f) => f.startsWith('index-'))).toEqual([`index-${generation + 1}`]);
    } finally {
      await svc.close();
    }
  });

  it('a format-1 point store (ids shared by the collection\'s tenants) opens with each id in its tenant, labels kept', async () => {
    const dir = join(tmp.dir, 'points');
    const root = open({ path: join(dir, POINTS_FILE), maxDbs: 4 });
    const points = root.openDB({ name: 'points', keyEncoding: 'uint32' });
    const vector = (x: number) => new Uint8Array(Float32Array.from([x, x + 1]).buffer);
    await root.transaction(() => {
      points.put(4, { t: 'acme', m: { a: 1 }, v: vector(4) });
      points.put(9, { t: 'globex', m: null, v: vector(9) });
      root.openDB({ name: 'meta' }).put('generation', 3);
    });
    await root.close();
    const store = PointStore.open(dir, 2);
    try {
      expect(store.generation).toBe(3);
      expect(store.get('acme', 4)).toEqual({ id: 4, tenant: 'acme', metadata: { a: 1 }, vector: Float32Array.from([4, 5]) });
      expect(store.get('globex', 4)).toBeNull();
      expect(store.label('globex', 9)).toBe(9); // the index generation on disk keeps its labels
      expect(store.owner(9)).toEqual({ tenant: 'globex', id: 9 });
      // New points get labels past the old ids; the same id in another tenant is another point.
      const labels = store.putMany(Uint32Array.from([4]), Float32Array.from([0, 0]), ['globex'], [null]);
      expect(labels[0]).toBe(10);
      expect(store.get('acme', 4)?.vector).toEqual(Float32Array.from([4, 5]));
      expect(Array.from(store.removeMany('acme', Uint32Array.from([4, 9])))).toEqual([4]);
      expect(store.removeTenant('globex')).toBe(2);
      expect(store.count).toBe(0);
    } finally {
      await store.close();
    }
  });
});
