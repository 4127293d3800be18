import { readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndex, openIndex } from '../src/index/spann.js';
import { open } from 'lmdb';
import { deviceReadBandwidth, dropPageCache, residentBytes } from '../src/storage/page-cache.js';
import { IndexStore } from '../src/storage/index-store.js';
import { LmdbValueMap } from '../src/storage/value-map.js';
import { createRng } from '../src/util/random.js';
import { mixture, tempDir } from './helpers.js';

// The SSD-regime parts of the index: prefetched searches answer as plain ones, readahead is a
// handle setting, and the page cache of an index file can be read and dropped.
const DIM = 24;
const tmp = tempDir('ssd');
const dir = join(tmp.dir, 'index');
const data = mixture(6000, DIM, 11);
const queries = mixture(40, DIM, 12);

beforeAll(async () => {
  const index = await createIndex(dir, { dimension: DIM, threads: 2 });
  await index.build(data);
  await index.close();
});
afterAll(() => tmp.cleanup());

describe('SSD regime', () => {
  it('a search with prefetch returns exactly what it returns without', async () => {
    const index = await openIndex(dir, { threads: 2 });
    try {
      for (const maxLists of [1, 8, 32]) {
        for (let q = 0; q < 40; q++) {
          const query = queries.subarray(q * DIM, (q + 1) * DIM);
          const a = index.search(query, 10, { maxLists });
          const b = index.search(query, 10, { maxLists, prefetch: true });
          expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
          expect(Array.from(b.distances)).toEqual(Array.from(a.distances));
          expect({ ...b.stats, listsPrefetched: 0 }).toEqual({ ...a.stats, listsPrefetched: 0 });
          expect(b.stats.listsPrefetched).toBe(b.stats.listsProbed);
        }
      }
    } finally {
      await index.close();
    }
  });

  it('the first search of a handle that reads more than 64 lists answers as the ones after it, with prefetch on', async () => {
    for (const prefetch of [false, true]) {
      const index = await openIndex(dir);
      try {
        const query = queries.subarray(0, DIM);
        const first = index.search(query, 10, { maxLists: 100, eps2: 1000, prefetch });
        const again = index.search(query, 10, { maxLists: 100, eps2: 1000, prefetch });
        expect(first.stats.listsProbed).toBeGreaterThan(64);
        expect(Array.from(first.ids)).toEqual(Array.from(again.ids));
        expect(first.stats).toEqual(again.stats);
      } finally {
        await index.close();
      }
    }
  });

  it('a batch search with prefetch gives the same answers as without, with readahead on or off', async () => {
    const answers: string[] = [];
    for (const readAhead of [false, true]) {
      const index = await openIndex(dir, { threads: 2, readAhead });
      try {
        for (const prefetch of [false, true]) {
          const r = await index.searchBatch(queries, 10, { maxLists: 16, prefetch });
          expect(r.stats.listsPrefetched).toBe(prefetch ? r.stats.listsProbed : 0);
          answers.push(JSON.stringify([Array.from(r.ids), Array.from(r.distances), { ...r.stats, listsPrefetched: 0 }]));
        }
      } finally {
        await index.close();
      }
    }
    expect(new Set(answers).size).toBe(1);
  });

  it("a batch whose lists the caller chooses (batchGraph 'shared': workers load no graph) answers as one whose workers search their own graphs", async () => {
    const answers: string[] = [];
    for (const batchGraph of ['per-worker', 'shared'] as const) {
      const index = await openIndex(dir, { threads: 2, batchGraph });
      try {
        for (const prefetch of [false, true]) {
          const r = await index.searchBatch(queries, 10, { maxLists: 16, prefetch });
          expect(r.stats.listsPrefetched).toBe(prefetch ? r.stats.listsProbed : 0);
          answers.push(JSON.stringify([Array.from(r.ids), Array.from(r.distances), r.stats]));
        }
        // A scoped batch (a tenant) keeps the workers' own graphs, whatever the mode.
        const t = await index.searchBatch(queries, 5, { maxLists: 8, tenant: 'default' });
        expect(t.ids.length).toBe(40 * 5);
      } finally {
        await index.close();
      }
    }
    expect(answers[2]).toBe(answers[0]);
    expect(answers[3]).toBe(answers[1]);
  });

  it('refuses a readAhead, batchGraph or prefetch of the wrong kind, naming it', async () => {
    await expect(openIndex(dir, { readAhead: 'yes' as never })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'readAhead' });
    await expect(openIndex(dir, { batchGraph: 'main' as never })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'batchGraph' });
    const index = await openIndex(dir);
    try {
      expect(() => index.search(queries.subarray(0, DIM), 10, { prefetch: 1 as never })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'prefetch' }));
    } finally {
      await index.close();
    }
  });

  // tmpfs has no backing device: its pages cannot be dropped.
  const onTmpfs = statfsSync(tmp.dir).type === 0x01021994;
  it.skipIf(onTmpfs)('dropPageCache evicts a closed index file, and a search brings back only the pages it read', async () => {
    const file = join(dir, 'strata.mdb');
    readFileSync(file); // all of it cached
    const size = readFileSync(file).length;
    expect(residentBytes(file)).toBeGreaterThan(size * 0.9);
    dropPageCache(file);
    expect(residentBytes(file)).toBeLessThan(size * 0.05);
    const index = await openIndex(dir); // readahead off by default
    try {
      const r = index.search(queries.subarray(0, DIM), 10, { maxLists: 2 });
      expect(r.ids.length).toBe(10);
      const resident = residentBytes(file);
      expect(resident).toBeGreaterThan(0);
      expect(resident).toBeLessThan(size * 0.5);
    } finally {
      await index.close();
    }
  });

  it('the prefetcher finds every posting list, append and block at its exact bytes in the file', async () => {
    // Lists with appends too: a few inserts after the build.
    const index = await openIndex(dir);
    await index.insert(mixture(50, DIM, 13), Uint32Array.from({ length: 50 }, (_, i) => 100_000 + i));
    await index.close();
    const file = join(dir, 'strata.mdb');
    const bytes = readFileSync(file);
    const env = open({ path: file, readOnly: true, maxDbs: 16 });
    const prefetcher = LmdbValueMap.open(file)!;
    try {
      let checked = 0;
      for (const name of ['postings', 'appends', 'blocks']) {
        const db = env.openDB<Buffer, number>({ name, keyEncoding: 'uint32', encoding: 'binary' });
        const keys: number[] = [];
        for (const key of db.getKeys()) {
          const value = db.getBinary(key)!;
          const at = prefetcher.locate(name, key);
          expect(at, `${name}/${key}`).not.toBeNull();
          const [off, len] = at!;
          // A value on overflow pages is preceded by their 24-byte page header.
          const start = len === value.length ? off : off + 24;
          expect(len === value.length || len === value.length + 24).toBe(true);
          expect(bytes.subarray(start, start + value.length).equals(value), `${name}/${key}`).toBe(true);
          keys.push(key);
          checked++;
        }
        const total = keys.reduce((s, k) => s + prefetcher.locate(name, k)![1], 0);
        expect(prefetcher.willNeed(name, Uint32Array.from(keys), keys.length)).toBe(total);
        expect(prefetcher.locate(name, 0xfffffff0)).toBeNull();
      }
      expect(checked).toBeGreaterThan(100);
      expect(prefetcher.locate('no-such-db', 1)).toBeNull();
    } finally {
      prefetcher.close();
      await env.close();
    }
    expect(prefetcher.locate('postings', 0)).toBeNull(); // closed: nothing, no crash
  });

  it('the value map survives 200 seeded copies with bytes flipped inside B-tree and data pages (hints and views, never a crash)', async () => {
    const file = join(dir, 'strata.mdb');
    const clean = readFileSync(file);
    const store = IndexStore.open(dir, { readOnly: true });
    const v = store.meta.versionBytes()!;
    const version = Buffer.from(v.subarray(0, v.length)); // lmdb-js's reused buffer: exactly the value's bytes
    await store.close();
    let viewed = 0;
    const page = 4096;
    const pages = Math.floor(clean.length / page);
    const copy = join(tmp.dir, 'damaged.mdb');
    const keys = Uint32Array.from({ length: 64 }, (_, i) => i * 7);
    for (let seed = 1; seed <= 200; seed++) {
      const rng = createRng(seed);
      const bytes = Buffer.from(clean);
      // Pages 2.. hold the trees: scramble up to 64 bytes in up to 8 of them (page headers included).
      for (let p = 0, n = 1 + rng.int(8); p < n; p++) {
        const at = (2 + rng.int(pages - 2)) * page;
        for (let b = 0, m = 1 + rng.int(64); b < m; b++) bytes[at + rng.int(rng.int(2) ? 64 : page)] = rng.int(256);
      }
      writeFileSync(copy, bytes);
      const map = LmdbValueMap.open(copy, ['postings', 'appends', 'blocks']);
      if (!map) continue;
      for (const db of ['postings', 'appends', 'blocks', 'heads']) {
        map.willNeed(db, keys, keys.length);
        for (let k = 0; k < 64; k += 9) {
          const at = map.locate(db, k);
          if (at) expect(at[0] + at[1]).toBeLessThanOrEqual(bytes.length);
        }
      }
      // A damaged meta db refuses the pin; otherwise every view lies inside the file and reads.
      if (map.pin('meta', Buffer.from('version'), version)) {
        for (const db of ['postings', 'appends', 'blocks']) {
          for (let k = 0; k < 64; k += 3) {
            const v = map.view(db, k);
            if (!v) continue;
            viewed++;
            expect(v.byteOffset + v.length).toBeLessThanOrEqual(2 ** 30 + 2 ** 26);
            let sum = 0;
            for (let i = 0; i < v.length; i += 64) sum += v[i];
            expect(sum).toBeGreaterThanOrEqual(0);
          }
        }
        map.unpin();
      }
      map.close();
    }
    expect(viewed).toBeGreaterThan(1000);
  });

  it.skipIf(onTmpfs)("prefetch 'auto' turns on while searches take major page faults (a cold start) and off once the lists are cached", async () => {
    const file = join(dir, 'strata.mdb');
    dropPageCache(file);
    const index = await openIndex(dir); // a small index: 'auto' is not on from the start
    try {
      const prefetched: number[] = [];
      for (let pass = 0; pass < 4; pass++) {
        for (let q = 0; q < 40; q++) prefetched.push(index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { maxLists: 16 }).stats.listsPrefetched);
      }
      expect(prefetched[0]).toBe(0); // nothing seen yet
      expect(prefetched.slice(1, 40).some((n) => n > 0)).toBe(true); // the cold pass faulted
      expect(prefetched.slice(120).every((n) => n === 0)).toBe(true); // everything cached by the last pass
      const forced = index.search(queries.subarray(0, DIM), 10, { maxLists: 16, prefetch: true }).stats;
      expect(forced.listsPrefetched).toBe(forced.listsProbed);
      expect(index.search(queries.subarray(0, DIM), 10, { maxLists: 16, prefetch: false }).stats.listsPrefetched).toBe(0);
    } finally {
      await index.close();
    }
  });

  it.skipIf(onTmpfs)('the device probe measures random O_DIRECT reads of a file and refuses unaligned blocks', () => {
    const file = join(dir, 'strata.mdb');
    expect(deviceReadBandwidth(file, 4096, 4, 200)).toBeGreaterThan(1e6); // any SSD or disk reads > 1 MB/s
    expect(() => deviceReadBandwidth(file, 1000, 4, 100)).toThrow(/multiple of 4096/);
  });

  it('page-cache calls on a missing file throw', () => {
    expect(() => residentBytes(join(tmp.dir, 'nope'))).toThrow(/nope/);
    expect(() => dropPageCache(join(tmp.dir, 'nope'))).toThrow(/nope/);
  });
});
