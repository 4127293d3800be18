import { describe, expect, it } from 'vitest';
import { dot, ipDistance, l2Squared, normalizeRows, withinBound } from '../src/index/distance.js';
import { TopK } from '../src/index/topk.js';
import { createRng } from '../src/util/random.js';

describe('distance kernels', () => {
  const rng = createRng(11);
  for (const dim of [1, 3, 4, 7, 64, 97]) {
    it(`match a naive loop at dim ${dim}, at offsets`, () => {
      const a = Float32Array.from({ length: dim * 3 }, () => rng.gaussian());
      const b = Float32Array.from({ length: dim * 2 }, () => rng.gaussian());
      let l2 = 0, ip = 0;
      for (let i = 0; i < dim; i++) {
        const x = a[dim + i], y = b[dim + i];
        l2 += (x - y) ** 2;
        ip += x * y;
      }
      expect(l2Squared(a, dim, b, dim, dim)).toBeCloseTo(l2, 4);
      expect(dot(a, dim, b, dim, dim)).toBeCloseTo(ip, 4);
      expect(ipDistance(a, dim, b, dim, dim)).toBeCloseTo(1 - ip, 4);
    });
  }

  it('normalizeRows makes unit rows and leaves zero rows alone', () => {
    const v = new Float32Array([3, 4, 0, 0, 1, 1]);
    normalizeRows(v, 2);
    expect(Array.from(v).map((x) => +x.toFixed(5))).toEqual([0.6, 0.8, 0, 0, 0.70711, 0.70711]);
  });

  it('withinBound applies (1+eps) to the Euclidean distance for l2 (squared inputs)', () => {
    expect(withinBound('l2', 4, 1, 1)).toBe(true); // d=2 <= 2*1
    expect(withinBound('l2', 4.01, 1, 1)).toBe(false);
    expect(withinBound('ip', 0.3, 0.2, 0.5)).toBe(true);
    expect(withinBound('ip', 0.31, 0.2, 0.5)).toBe(false);
  });
});

describe('TopK', () => {
  it('keeps the k smallest, sorted, for random input (seeded)', () => {
    const rng = createRng(5);
    for (let trial = 0; trial < 50; trial++) {
      const k = 1 + rng.int(20);
      const n = rng.int(200);
      const d = Array.from({ length: n }, () => rng.next());
      const heap = new TopK(k);
      d.forEach((x, i) => heap.push(x, i));
      const ids = new Uint32Array(k);
      const dist = new Float32Array(k);
      const got = heap.drainSorted(ids, dist);
      const want = d.map((x, i) => [Math.fround(x), i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k);
      expect(got).toBe(Math.min(k, n));
      expect(Array.from(ids.subarray(0, got))).toEqual(want.map((w) => w[1]));
      for (let i = got; i < k; i++) expect(ids[i]).toBe(0xffffffff);
    }
  });

  it('pushUnique never holds one id twice', () => {
    const heap = new TopK(3);
    for (const [d, id] of [[1, 7], [1, 7], [0.5, 8], [1, 7], [0.2, 9], [0.5, 8]] as const) heap.pushUnique(d, id);
    const ids = new Uint32Array(3);
    heap.drainSorted(ids, new Float32Array(3));
    expect(Array.from(ids)).toEqual([9, 8, 7]);
  });
});
