import { describe, expect, it } from 'vitest';
import { exactSearch } from '../src/index/exact.js';
import { l2Squared, dot } from '../src/index/distance.js';
import { mixture } from './helpers.js';

function naive(base: Float32Array, q: Float32Array, dim: number, k: number, metric: 'l2' | 'ip') {
  const n = base.length / dim;
  const nq = q.length / dim;
  const out: number[][] = [];
  for (let i = 0; i < nq; i++) {
    const d = Array.from({ length: n }, (_, j) => [metric === 'l2' ? l2Squared(q, i * dim, base, j * dim, dim) : 1 - dot(q, i * dim, base, j * dim, dim), j]);
    d.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    out.push(d.slice(0, k).map((x) => x[1]));
  }
  return out;
}

describe('exact search', () => {
  const dim = 24;
  const base = mixture(3000, dim, 1);
  const queries = mixture(40, dim, 2);

  for (const metric of ['l2', 'ip'] as const) {
    it(`equals a naive sort (${metric})`, async () => {
      const r = await exactSearch(base, queries, dim, 7, { metric, threads: 1 });
      const want = naive(base, queries, dim, 7, metric);
      for (let q = 0; q < 40; q++) expect(Array.from(r.ids.subarray(q * 7, q * 7 + 7))).toEqual(want[q]);
    });
  }

  it('the piscina-parallel path returns exactly what one thread returns', async () => {
    const one = await exactSearch(base, queries, dim, 10, { threads: 1 });
    const two = await exactSearch(base, queries, dim, 10, { threads: 2 });
    expect(Array.from(two.ids)).toEqual(Array.from(one.ids));
    expect(Array.from(two.distances)).toEqual(Array.from(one.distances));
  });

  it('cosine ranks by angle and maps labels', async () => {
    const b = new Float32Array([1, 0, 10, 1, 0, 3]);
    const r = await exactSearch(b, new Float32Array([3, 0.1]), 2, 3, { metric: 'cosine', labels: new Uint32Array([100, 200, 300]) });
    expect(Array.from(r.ids)).toEqual([100, 200, 300]);
  });

  it('pads when k exceeds the base', async () => {
    const r = await exactSearch(new Float32Array([0, 0, 1, 1]), new Float32Array([0, 0]), 2, 4);
    expect(Array.from(r.ids)).toEqual([0, 1, 0xffffffff, 0xffffffff]);
  });
});
