/** Chunk KV entries: codec round-trips, the two-tier store, eviction policies, crash safety. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { ChunkKvStore, chunkKey } from '../src/kv/chunk-store.js';
import { decodeEntry, encodeEntry, type ChunkEntry } from '../src/kv/entry-codec.js';
import { EvictionPolicy } from '../src/kv/eviction.js';
import { decodeFloat16, encodeFloat16 } from '../src/util/float16.js';
import { createRng } from '../src/util/random.js';
import { tempDir } from './helpers.js';

function entry(n: number, seed: number, layers = 3, heads = 2, dim = 8): ChunkEntry {
  const rng = createRng(seed);
  const t = () => Float32Array.from({ length: heads * n * dim }, () => rng.gaussian() * 3);
  return {
    tokens: Int32Array.from({ length: n }, () => rng.int(512)),
    basePosition: 1,
    cache: { layers, kvHeads: heads, headDim: dim, length: n, keys: Array.from({ length: layers }, t), values: Array.from({ length: layers }, t) },
    deviation: Float32Array.from({ length: n }, () => rng.next()),
    recomputeMs: 12.5,
  };
}

describe('float16', () => {
  it('round-trips within half precision and handles the edge values', () => {
    const x = Float32Array.from([0, -0, 1, -2.5, 65504, 1e-5, 6.1e-5, 3.14159, 1e6, -1e-9]);
    const bits = new Uint16Array(x.length);
    encodeFloat16(x, bits);
    const back = new Float32Array(x.length);
    decodeFloat16(bits, back);
    expect(Array.from(back.subarray(0, 5))).toEqual([0, -0, 1, -2.5, 65504]);
    expect(back[5]).toBeCloseTo(1e-5, 7); // subnormal
    expect(back[7]).toBeCloseTo(3.140625, 6);
    expect(back[8]).toBe(Infinity);
    expect(Object.is(back[9], -0) || back[9] === 0).toBe(true);
    const rng = createRng(3);
    const y = Float32Array.from({ length: 10000 }, () => rng.gaussian() * 10);
    const yb = new Uint16Array(y.length);
    encodeFloat16(y, yb);
    const yd = new Float32Array(y.length);
    decodeFloat16(yb, yd);
    for (let i = 0; i < y.length; i++) expect(Math.abs(yd[i] - y[i])).toBeLessThanOrEqual(Math.abs(y[i]) * 2 ** -11 + 1e-7);
  });
});

describe('entry codec', () => {
  it('round-trips f32 exactly, f16 and f8 within their precision, with tokens and statistics', () => {
    const e = entry(37, 1);
    for (const [dtype, tol] of [['f32', 0], ['f16', 2 ** -11], ['f8', 2 ** -4]] as const) {
      const d = decodeEntry(encodeEntry(e, dtype));
      expect(Array.from(d.tokens)).toEqual(Array.from(e.tokens));
      expect(d.basePosition).toBe(1);
      expect(d.recomputeMs).toBe(12.5);
      expect(Array.from(d.deviation!)).toEqual(Array.from(e.deviation!));
      for (let l = 0; l < 3; l++) {
        let max = 0;
        for (const x of e.cache.keys[l]) max = Math.max(max, Math.abs(x));
        e.cache.keys[l].forEach((x, i) => expect(Math.abs(d.cache.keys[l][i] - x)).toBeLessThanOrEqual(dtype === 'f8' ? max * tol : Math.abs(x) * tol + 1e-7));
        e.cache.values[l].forEach((x, i) => expect(Math.abs(d.cache.values[l][i] - x)).toBeLessThanOrEqual(dtype === 'f8' ? max * tol * 4 : Math.abs(x) * tol + 1e-7));
      }
    }
    expect(encodeEntry(e, 'f16').length).toBeLessThan(encodeEntry(e, 'f32').length * 0.55);
  });

  it('a damaged value is a coded error, never a wrong cache', () => {
    const blob = encodeEntry(entry(10, 2), 'f16');
    expect(() => decodeEntry(blob.subarray(0, blob.length - 1))).toThrow(expect.objectContaining({ code: 'STRATA_INDEX_CORRUPT' }));
    const bad = Buffer.from(blob);
    bad[0] ^= 0xff;
    expect(() => decodeEntry(bad)).toThrow(expect.objectContaining({ code: 'STRATA_INDEX_CORRUPT' }));
  });
});

describe('eviction policies', () => {
  it('LRU drops the least recently used', () => {
    const p = new EvictionPolicy('lru');
    for (const k of ['a', 'b', 'c']) p.add(k, 10, 1);
    p.touch('a');
    expect(p.evict(20)).toEqual(['b']);
    expect(p.evict(10)).toEqual(['c']);
    expect(p.bytes).toBe(10);
  });

  it('GDSF keeps frequent and costly entries per byte, and ages idle ones out', () => {
    const p = new EvictionPolicy('gdsf');
    p.add('popular', 10, 1);
    for (let i = 0; i < 5; i++) p.touch('popular');
    p.add('oneoff', 10, 1);
    p.add('costly', 10, 8); // 8x the recompute cost
    expect(p.evict(20)).toEqual(['oneoff']);
    // The clock rose to the evicted priority: new entries start above it, old idle ones sink.
    p.add('big', 100, 1);
    expect(p.evict(20)).toEqual(['big']);
    // Then frequency x cost / size: popular 6 x 1 / 10 = 0.6 goes before costly 1 x 8 / 10 = 0.8.
    expect(p.evict(10)).toEqual(['popular']);
  });
});

describe('fair share between namespaces', () => {
  const groupOf = (k: string) => k.split('/')[0];
  it('a namespace within its share keeps its entries however much another one puts', () => {
    for (const name of ['gdsf', 'lru'] as const) {
      const p = new EvictionPolicy(name, groupOf);
      for (let i = 0; i < 3; i++) p.add(`b/${i}`, 10, 1); // B: 30 bytes, under half of 100
      for (let i = 0; i < 200; i++) {
        p.add(`a/${i}`, 10, 5); // A floods with costlier entries
        for (const k of p.evict(100, `a/${i}`)) expect(k.startsWith('a/')).toBe(true);
      }
      expect(p.usage('b')).toEqual({ entries: 3, bytes: 30 });
      expect(p.usage('a').bytes).toBe(70); // A borrows what B does not use
    }
  });

  it('a namespace over its share loses its own lowest entries first; without fair share the pool is one', () => {
    const fair = new EvictionPolicy('lru', groupOf);
    const shared = new EvictionPolicy('lru', groupOf, false);
    for (const p of [fair, shared]) {
      for (let i = 0; i < 6; i++) p.add(`b/${i}`, 10, 1); // B holds 60 of 100
      for (let i = 0; i < 4; i++) p.add(`a/${i}`, 10, 1);
      p.add('a/new', 10, 1);
    }
    expect(fair.evict(100, 'a/new')).toEqual(['b/0']); // B is over 50: its oldest goes
    for (let i = 0; i < 10; i++) fair.add(`a/x${i}`, 10, 1), fair.evict(100, `a/x${i}`);
    expect(fair.usage('b').bytes).toBe(50); // B is cut to its share, not below
    expect(shared.evict(100, 'a/new')).toEqual(['b/0']);
    for (let i = 0; i < 10; i++) shared.add(`a/x${i}`, 10, 1), shared.evict(100, `a/x${i}`);
    expect(shared.usage('b').bytes).toBe(0); // one pool: A pushed all of B out
  });
});

describe('ChunkKvStore', () => {
  it('keys depend on model, namespace and token ids only', () => {
    expect(chunkKey('m1', [1, 2, 3])).toBe(chunkKey('m1', Int32Array.from([1, 2, 3])));
    expect(chunkKey('m1', [1, 2, 3])).not.toBe(chunkKey('m2', [1, 2, 3]));
    expect(chunkKey('m1', [1, 2, 3])).not.toBe(chunkKey('m1', [1, 2, 4]));
    expect(chunkKey('m1', [1, 2, 3], 'tenant-a')).not.toBe(chunkKey('m1', [1, 2, 3], 'tenant-b'));
    expect(chunkKey('m1', [1, 2, 3], '')).toBe(chunkKey('m1', [1, 2, 3]));
    expect(chunkKey('m1', [1, 2, 3], 'tenant-a')).toMatch(/^m1:[0-9a-f]{16}:[0-9a-f]{32}$/);
  });

  it('keeps lookups, hits and bytes per namespace: a namespace sees only its own', async () => {
    const { dir, cleanup } = tempDir('kvns');
    try {
      const store = ChunkKvStore.open(dir, { memoryBytes: 0, diskBytes: 1e6 });
      const ka = chunkKey('m', [1, 2], 'a');
      const kb = chunkKey('m', [1, 2], 'b');
      await store.put(ka, entry(40, 1), 40);
      expect(store.get(ka)).toBeDefined();
      expect(store.get(kb)).toBeUndefined(); // same tokens, other namespace: a miss
      const a = store.stats('a');
      const b = store.stats('b');
      expect(a).toMatchObject({ lookups: 1, misses: 0, hitRate: 1, disk: { entries: 1, hits: 1 } });
      expect(b).toMatchObject({ lookups: 1, misses: 1, hitRate: 0, disk: { entries: 0, bytes: 0, hits: 0 } });
      expect(b.namespaces).toBeUndefined();
      expect(store.stats()).toMatchObject({ lookups: 2, misses: 1, namespaces: 1 });
      await store.close();
    } finally {
      cleanup();
    }
  });

  it('empties a store of the older, un-namespaced format at open, and refuses a newer one', async () => {
    const { dir, cleanup } = tempDir('kvformat');
    try {
      const root = open({ path: join(dir, 'kv.mdb'), maxDbs: 4 });
      await root.openDB({ name: 'entries', encoding: 'binary' }).put(`m:${'0'.repeat(32)}`, encodeEntry(entry(8, 1), 'f16'));
      await root.close();
      const store = ChunkKvStore.open(dir);
      expect(store.stats().disk.entries).toBe(0);
      await store.close();
      const again = open({ path: join(dir, 'kv.mdb'), maxDbs: 4 });
      await again.openDB({ name: 'meta' }).put('format', 99);
      await again.close();
      expect(() => ChunkKvStore.open(dir)).toThrow(expect.objectContaining({ code: 'STRATA_FORMAT_VERSION' }));
    } finally {
      cleanup();
    }
  });

  it('serves from memory, then from disk after reopening (fp16), within budgets', async () => {
    const { dir, cleanup } = tempDir('kvstore');
    try {
      let store = ChunkKvStore.open(dir, { memoryBytes: 20_000, diskBytes: 1e6 });
      const es = [0, 1, 2, 3, 4].map((i) => entry(40, 10 + i));
      for (let i = 0; i < es.length; i++) await store.put(`k${i}`, es[i], 40);
      const s = store.stats();
      expect(s.memory.bytes).toBeLessThanOrEqual(20_000);
      expect(s.disk.entries).toBe(5);
      expect(store.get('k4')).toBe(es[4]); // memory hit: the very object
      const fromDisk = store.get('k0')!; // evicted from memory, decoded from LMDB
      expect(fromDisk).not.toBe(es[0]);
      expect(fromDisk.cache.keys[2][5]).toBeCloseTo(es[0].cache.keys[2][5], 2);
      expect(store.get('nope')).toBeUndefined();
      expect(store.stats()).toMatchObject({ lookups: 3, misses: 1, memory: { hits: 1 }, disk: { hits: 1 } });
      await store.close();
      store = ChunkKvStore.open(dir, { memoryBytes: 20_000, diskBytes: 1e6 });
      expect(store.stats().disk.entries).toBe(5);
      expect(Array.from(store.get('k3')!.tokens)).toEqual(Array.from(es[3].tokens));
      expect(store.getBlob('k3')!.length).toBeGreaterThan(0);
      await store.close();
      // A smaller disk budget evicts on the next put.
      store = ChunkKvStore.open(dir, { diskBytes: 3 * encodeEntry(es[0], 'f16').length });
      await store.put('k5', entry(40, 20), 40);
      expect(store.stats().disk.entries).toBe(3);
      await store.close();
    } finally {
      cleanup();
    }
  });

  it('a writer killed with SIGKILL mid-write leaves a readable store holding every acknowledged entry', async () => {
    const { dir, cleanup } = tempDir('kvcrash');
    try {
      for (let round = 0; round < 3; round++) {
        const acked = await new Promise<string[]>((resolve) => {
          const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/kv-crash-writer.mjs', import.meta.url)), dir, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let _timer: NodeJS.Timeout | undefined;
          child.stdout.on('data', (d) => {
            out += d;
            _timer ??= setTimeout(() => child.kill('SIGKILL'), 150 + 100 * round);
          });
          child.on('exit', () => resolve(out.split('\n').slice(0, -1)));
        });
        expect(acked.length).toBeGreaterThan(0);
        const store = ChunkKvStore.open(dir, { diskBytes: 4 * 2 ** 20 });
        // Entries may have been evicted by later puts (4 MiB budget), but every stored one decodes,
        // and the last acknowledged entry is there.
        expect(store.get(acked[acked.length - 1])).toBeDefined();
        for (const key of acked) {
          const blob = store.getBlob(key);
          if (blob) expect(() => decodeEntry(blob)).not.toThrow();
        }
        await store.close();
      }
    } finally {
      cleanup();
    }
  });
});
