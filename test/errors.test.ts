import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndex, openIndex, type SpannIndex } from '../src/index/spann.js';
import { exactSearch } from '../src/index/exact.js';
import { ERROR_CODES, StrataError } from '../src/errors.js';
import { IndexStore } from '../src/storage/index-store.js';
import { mixture, tempDir } from './helpers.js';

/** Run fn and return the StrataError it throws (sync or async). */
async function caught(fn: () => unknown): Promise<StrataError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StrataError);
    return err as StrataError;
  }
  throw new Error('expected a StrataError, nothing was thrown');
}

describe('bad input gets a coded error naming the field', () => {
  const tmp = tempDir('errors');
  const DIM = 8;
  let index: SpannIndex;
  const q = new Float32Array(DIM).fill(0.5);

  beforeAll(async () => {
    index = await createIndex(join(tmp.dir, 'ok'), { dimension: DIM });
    await index.build(mixture(500, DIM, 1));
  });
  afterAll(async () => {
    await index.close();
    tmp.cleanup();
  });

  it('every code in the table has a status and summary', () => {
    for (const [code, v] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^STRATA_[A-Z_]+$/);
      expect(v.status).toBeGreaterThanOrEqual(400);
      expect(v.summary.length).toBeGreaterThan(5);
    }
  });

  it('wrong dimension (query, build, batch)', async () => {
    const e = await caught(() => index.search(new Float32Array(DIM + 1), 5));
    expect([e.code, e.field]).toEqual(['STRATA_DIMENSION_MISMATCH', 'query']);
    expect(e.message).toContain('9 components');
    const e2 = await caught(async () => {
      const other = await createIndex(join(tmp.dir, 'dim'), { dimension: 3 });
      try {
        await other.build(new Float32Array(7));
      } finally {
        await other.close();
      }
    });
    expect([e2.code, e2.field]).toEqual(['STRATA_DIMENSION_MISMATCH', 'vectors']);
    expect((await caught(() => index.searchBatch([[1, 2]], 3))).code).toBe('STRATA_DIMENSION_MISMATCH');
  });

  it('NaN and Infinity in queries, vectors and exact search', async () => {
    const bad = Float32Array.from(q);
    bad[3] = NaN;
    const e = await caught(() => index.search(bad, 5));
    expect([e.code, e.field]).toEqual(['STRATA_NON_FINITE', 'query']);
    expect(e.message).toContain('component 3');
    bad[3] = Infinity;
    expect((await caught(() => index.search(bad, 5))).code).toBe('STRATA_NON_FINITE');
    expect((await caught(() => exactSearch(new Float32Array([1, NaN]), new Float32Array([1, 1]), 2, 1))).field).toBe('base');
  });

  it('k <= 0, fractional k and non-number k', async () => {
    for (const k of [0, -1, 1.5, NaN, '3' as unknown as number]) {
      const e = await caught(() => index.search(q, k));
      expect([e.code, e.field]).toEqual(['STRATA_INVALID_K', 'k']);
    }
    expect((await caught(() => exactSearch(q, q, DIM, 0))).code).toBe('STRATA_INVALID_K');
  });

  it('unknown metric and invalid options name the option', async () => {
    const e = await caught(() => createIndex(join(tmp.dir, 'm'), { dimension: 4, metric: 'hamming' as never }));
    expect([e.code, e.field]).toEqual(['STRATA_UNKNOWN_METRIC', 'metric']);
    const e2 = await caught(() => createIndex(join(tmp.dir, 'o'), { dimension: 4, headRatio: 2 }));
    expect([e2.code, e2.field]).toEqual(['STRATA_INVALID_OPTION', 'headRatio']);
    expect(e2.message).toContain('options.headRatio must be a number in (0, 1], got 2');
    expect((await caught(() => createIndex(join(tmp.dir, 'o2'), { dimension: 0 }))).field).toBe('dimension');
    expect((await caught(() => createIndex(join(tmp.dir, 'o3'), { dimension: 4, nprobe: 3 } as never))).field).toBe('nprobe');
    expect((await caught(() => index.search(q, 3, { maxLists: 0 }))).field).toBe('maxLists');
  });

  it('bad ids: duplicates, negatives, wrong count', async () => {
    const other = await createIndex(join(tmp.dir, 'ids'), { dimension: 2 });
    const v = new Float32Array([0, 0, 1, 1, 2, 2]);
    expect((await caught(() => other.build(v, [1, 1, 2]))).code).toBe('STRATA_INVALID_ID');
    expect((await caught(() => other.build(v, [1, -2, 3]))).code).toBe('STRATA_INVALID_ID');
    expect((await caught(() => other.build(v, [1, 2]))).code).toBe('STRATA_INVALID_ID');
    expect((await caught(() => other.search([0, 0], 1))).code).toBe('STRATA_INDEX_NOT_BUILT');
    expect((await caught(() => other.build(new Float32Array(0)))).code).toBe('STRATA_EMPTY_INPUT');
    await other.close();
  });

  it('missing directory, existing index, closed index', async () => {
    const e = await caught(() => openIndex(join(tmp.dir, 'nope')));
    expect([e.code, e.field]).toEqual(['STRATA_INDEX_NOT_FOUND', 'dir']);
    mkdirSync(join(tmp.dir, 'empty-dir'));
    expect((await caught(() => openIndex(join(tmp.dir, 'empty-dir')))).code).toBe('STRATA_INDEX_NOT_FOUND');
    expect((await caught(() => createIndex(join(tmp.dir, 'ok'), { dimension: DIM }))).code).toBe('STRATA_INDEX_EXISTS');
    const c = await createIndex(join(tmp.dir, 'closed'), { dimension: 2 });
    await c.close();
    expect((await caught(() => c.search([0, 0], 1))).code).toBe('STRATA_INDEX_CLOSED');
  });

  it('corrupt LMDB file', async () => {
    const dir = join(tmp.dir, 'corrupt');
    mkdirSync(dir);
    writeFileSync(join(dir, 'strata.mdb'), Buffer.alloc(64 * 1024, 0x5a));
    const e = await caught(() => openIndex(dir));
    expect(e.code).toBe('STRATA_INDEX_CORRUPT');
  });

  it('a format version from another build is refused with STRATA_FORMAT_VERSION', async () => {
    const dir = join(tmp.dir, 'version');
    const idx = await createIndex(dir, { dimension: 2 });
    await idx.close();
    const store = IndexStore.open(dir);
    store.write(() => store.meta.put({ ...store.meta.get()!, formatVersion: 999 }));
    await store.close();
    const e = await caught(() => openIndex(dir));
    expect([e.code, e.field]).toEqual(['STRATA_FORMAT_VERSION', 'formatVersion']);
    expect(e.message).toContain('format 999');
  });

  it('a damaged posting list is reported, not misread', async () => {
    const dir = join(tmp.dir, 'badlist');
    const idx = await createIndex(dir, { dimension: DIM });
    await idx.build(mixture(300, DIM, 4));
    await idx.close();
    const store = IndexStore.open(dir);
    store.write(() => {
      for (let h = 0; h < 30; h++) store.lists.put('list', h, new Uint8Array(8));
    });
    await store.close();
    const reopened = await openIndex(dir);
    const e = await caught(() => reopened.search(q, 3, { bypassIndex: true }));
    expect([e.code, e.field]).toEqual(['STRATA_INDEX_CORRUPT', 'postings']);
    await reopened.close();
  });
});
