import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndex, openIndex } from '../src/index/spann.js';
import { IndexStore } from '../src/storage/index-store.js';
import { mixture, tempDir } from './helpers.js';

// Zero-copy reads: during a search, posting lists are views of the index file's own pages — only
// when the newest committed snapshot holds the index version the search's LMDB read sees.
const DIM = 16;
const tmp = tempDir('value-map');
const dir = join(tmp.dir, 'index');
const CHILD = fileURLToPath(new URL('./fixtures/insert-vectors.mjs', import.meta.url));

beforeAll(async () => {
  const index = await createIndex(dir, { dimension: DIM, threads: 1 });
  await index.build(mixture(3000, DIM, 5));
  await index.close();
});
afterAll(() => tmp.cleanup());

/** The heads holding a list, read through LMDB (copies). */
function listsOf(store: IndexStore): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const heads = store.meta.get()!.headCount;
  for (let h = 0; h < heads; h++) {
    const v = store.lists.get('list', h);
    if (v) out.set(h, v);
  }
  return out;
}

/** Whether a value is a view of the file (a mapped window, 1 GiB and more) rather than lmdb-js's buffer. */
const mapped = (v: Uint8Array) => v.buffer.byteLength >= 2 ** 30;

describe('zero-copy reads', () => {
  it('a pinned read is a view of the file with exactly the bytes LMDB returns, for every list; never inside a write', async () => {
    const store = IndexStore.open(dir);
    try {
      const copies = listsOf(store);
      expect(copies.size).toBeGreaterThan(50);
      expect(store.beginRead()).toBe(true);
      for (const [h, copy] of copies) {
        const view = store.lists.get('list', h, true)!;
        expect(mapped(view)).toBe(true);
        expect(Buffer.compare(Buffer.from(view), Buffer.from(copy))).toBe(0);
      }
      expect(store.lists.get('list', 0xfffffff0, true)).toBeUndefined();
      store.endRead();
      const after = store.lists.get('list', copies.keys().next().value!, true)!;
      expect(mapped(after)).toBe(false); // unpinned: lmdb-js's buffer again
      expect(store.write(() => store.beginRead())).toBe(false);
      // A view still held when the store closes reads as empty, never as unmapped memory.
      store.beginRead();
      const held = store.lists.get('list', copies.keys().next().value!, true)!;
      store.endRead();
      expect(held.length).toBeGreaterThan(0);
      await store.close();
      expect(held.length).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('no pin when another process committed after this read snapshot began: reads stay LMDB copies of that snapshot', async () => {
    const store = IndexStore.open(dir, { readOnly: true });
    try {
      const version = store.meta.version()!; // opens this thread's read snapshot
      const before = listsOf(store);
      const child = spawnSync(process.execPath, [CHILD, dir, String(DIM), '900000', '400'], { encoding: 'utf8' });
      expect(child.status, child.stderr).toBe(0);
      // Same event turn: the read snapshot is the old one, the file's newest is not.
      expect(store.meta.version()).toBe(version);
      expect(store.beginRead()).toBe(false);
      for (const [h, copy] of before) {
        const v = store.lists.get('list', h, true)!;
        expect(mapped(v)).toBe(false);
        expect(Buffer.compare(Buffer.from(v.subarray(0, v.length)), Buffer.from(copy))).toBe(0);
      }
      store.endRead();
      await new Promise((r) => setTimeout(r, 5)); // lmdb-js renews its snapshot on a later turn
      expect(store.meta.version()).toBeGreaterThan(version);
      expect(store.beginRead()).toBe(true);
      store.endRead();
    } finally {
      await store.close();
    }
    // The inserted vectors are found by a search (its reads pinned).
    const index = await openIndex(dir);
    try {
      const q = new Float32Array(DIM).map((_, i) => Math.sin(i + 900000));
      expect(index.search(q, 1).ids[0]).toBe(900000);
    } finally {
      await index.close();
    }
  });
});
