/**
 * Bad files: every store's LMDB file, damaged 200 seeded ways (truncated, garbage over its header
 * pages, all garbage, zeroed header pages), is refused with a coded error or opened intact — never a
 * crash of the process (the native library faults on a garbage or truncated map; storage/lmdb.ts
 * checks the header pages and the length first). Not covered: a few bytes changed inside LMDB's
 * own meta or branch pages, which LMDB itself does not detect (it keeps no checksums of its pages).
 */
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'lmdb';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkKvStore } from '../src/kv/chunk-store.js';
import { createIndex, openIndex } from '../src/index/spann.js';
import { DEFAULT_BM25 } from '../src/rag/lexical-index.js';
import { PassageStore } from '../src/rag/passage-store.js';
import { ServiceCatalog } from '../src/server/catalog.js';
import { PointStore } from '../src/server/point-store.js';
import { createRng, type Rng } from '../src/util/random.js';
import { mixture, tempDir } from './helpers.js';

const COPIES = 200;

/** One seeded damage of `bytes`. */
function damage(bytes: Buffer, rng: Rng): { what: string; out: Buffer } {
  const page = 4096;
  switch (rng.int(4)) {
    case 0: {
      const len = rng.int(bytes.length);
      return { what: `truncated to ${len} bytes`, out: bytes.subarray(0, len) };
    }
    case 1: {
      const out = Buffer.from(bytes);
      const pages = 1 + rng.int(2);
      for (let i = 0; i < Math.min(out.length, pages * page); i++) out[i] = rng.int(256);
      return { what: `garbage over the first ${pages} header page(s)`, out };
    }
    case 2: {
      const len = rng.int(4 * page);
      return { what: `${len} bytes of garbage`, out: Buffer.from(Array.from({ length: len }, () => rng.int(256))) };
    }
    default: {
      const out = Buffer.from(bytes);
      out.fill(0, 0, Math.min(out.length, page * (1 + rng.int(2))));
      return { what: 'header pages zeroed', out };
    }
  }
}

interface StoreCase {
  name: string;
  /** The file to damage, relative to the store folder. */
  file: string;
  make(dir: string): Promise<void>;
  open(dir: string): Promise<void>;
}

describe('damaged store files', () => {
  const tmp = tempDir('damaged');
  const vectors = mixture(300, 8, 3);
  const cases: StoreCase[] = [
    {
      name: 'index',
      file: 'strata.mdb',
      async make(dir) {
        const index = await createIndex(dir, { dimension: 8, threads: 1 });
        await index.build(vectors);
        await index.close();
      },
      async open(dir) {
        const index = await openIndex(dir);
        try {
          index.search(vectors.subarray(0, 8), 3);
          index.search(vectors.subarray(0, 8), 3, { prefetch: true }); // the read-ahead walk reads the damaged B-tree too
        } finally {
          await index.close();
        }
      },
    },
    {
      name: 'passages',
      file: 'passages.mdb',
      async make(dir) {
        const s = PassageStore.open(dir, DEFAULT_BM25);
        s.commitIngest({ tenant: 't', embedded: [['abc', Float32Array.of(1, 0)]], added: [{ id: 0, hash: 'abc', text: 'a text' }], removed: [], chunks: [[0, { t: 't', h: 'abc', d: ['d'], n: 2 }]], docs: [['t\u0000d', { hash: 'x', chunks: [[0, 0, 6]] }]], nextId: 1, tenantHasDocuments: true });
        await s.close();
      },
      async open(dir) {
        const s = PassageStore.open(dir, DEFAULT_BM25);
        try {
          s.getMeta('nextId');
          s.tenants();
        } finally {
          await s.close();
        }
      },
    },
    {
      name: 'kv',
      file: 'kv.mdb',
      async make(dir) {
        (await ChunkKvStore.open(dir)).close();
      },
      async open(dir) {
        const s = ChunkKvStore.open(dir);
        s.stats();
        await s.close();
      },
    },
    {
      name: 'points',
      file: 'points.mdb',
      async make(dir) {
        const s = PointStore.open(dir, 8, { create: true });
        s.putMany(Uint32Array.from([1, 2]), vectors.slice(0, 16), ['a', 'b'], [null, { x: 1 }]);
        await s.close();
      },
      async open(dir) {
        const s = PointStore.open(dir, 8);
        try {
          s.get('a', 1);
        } finally {
          await s.close();
        }
      },
    },
    {
      name: 'catalog',
      file: 'service/data.mdb',
      async make(dir) {
        const c = ServiceCatalog.open(dir);
        c.addCollection({ name: 'c', dimension: 8, metric: 'l2', spec: 'SPANN', createdAt: 'now' });
        await c.close();
      },
      async open(dir) {
        const c = ServiceCatalog.open(dir);
        try {
          c.listCollections();
        } finally {
          await c.close();
        }
      },
    },
  ];
  const originals = new Map<string, Buffer>();

  beforeAll(async () => {
    for (const c of cases) {
      const dir = join(tmp.dir, 'original', c.name);
      await c.make(dir);
      originals.set(c.name, readFileSync(join(dir, c.file)));
    }
  });
  afterAll(() => tmp.cleanup());

  for (const c of cases) {
    it(`${c.name}: ${COPIES} damaged copies are refused with a coded error or open intact, never a crash`, async () => {
      const rng = createRng(1900 + c.name.length);
      const original = originals.get(c.name) as Buffer;
      expect(original.length).toBeGreaterThan(4096);
      const outcomes = { refused: 0, opened: 0 };
      for (let i = 0; i < COPIES; i++) {
        const dir = join(tmp.dir, c.name, String(i));
        const { what, out } = damage(original, rng);
        mkdirSync(join(dir, c.file, '..'), { recursive: true });
        writeFileSync(join(dir, c.file), out);
        try {
          await c.open(dir);
          outcomes.opened++;
        } catch (err) {
          expect(String((err as { code?: unknown }).code), `${c.name} copy ${i} (${what}): ${(err as Error).message}`).toMatch(/^STRATA_/);
          outcomes.refused++;
        }
      }
      expect(outcomes.refused).toBeGreaterThan(COPIES / 2);
      // The undamaged file still opens.
      const good = join(tmp.dir, c.name, 'good');
      mkdirSync(join(good, c.file, '..'), { recursive: true });
      copyFileSync(join(tmp.dir, 'original', c.name, c.file), join(good, c.file));
      if (c.name === 'index') for (const f of ['heads.hnsw', 'heads.hnsw.version']) copyFileSync(join(tmp.dir, 'original', c.name, f), join(good, f));
      await c.open(good);
      expect(statSync(join(good, c.file)).size).toBe(original.length);
    }, 120_000);
  }

  it('a posting value whose bytes were flipped is refused with STRATA_CORRUPT naming the store and key, never answered from', async () => {
    const dir = join(tmp.dir, 'flipped');
    const index = await createIndex(dir, { dimension: 8, threads: 1 });
    await index.build(vectors);
    await index.close();
    // Flip one byte of one stored vector code in the first list, keeping its stored checksum.
    const root = open({ path: join(dir, 'strata.mdb'), maxDbs: 16 });
    const postings = root.openDB({ name: 'postings', keyEncoding: 'uint32', encoding: 'binary' });
    const key = [...postings.getKeys()][0] as number;
    const value = Buffer.from(postings.get(key) as Buffer);
    value[value.length - 8] ^= 0x40;
    await postings.put(key, value);
    await root.close();
    const damaged = await openIndex(dir);
    try {
      let err: unknown;
      try {
        for (let q = 0; q < 300; q += 7) damaged.search(vectors.subarray(q * 8, q * 8 + 8), 5, { maxLists: 64, eps2: 1000 });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'STRATA_CORRUPT', field: 'postings', message: expect.stringMatching(new RegExp(`index: list ${key} fails its checksum`)) });
    } finally {
      await damaged.close();
    }
  });
});
