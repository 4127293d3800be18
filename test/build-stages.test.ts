import { describe, expect, it } from 'vitest';
import { chooseReplicas, denseHeads, type AssignParams } from '../src/index/assign.js';
import { balancedKMeans } from '../src/index/kmeans.js';
import { selectHeads, shareBudget } from '../src/index/heads.js';
import { layoutPostings } from '../src/index/posting-layout.js';
import { NO_ID } from '../src/index/topk.js';
import { createRng } from '../src/util/random.js';
import { mixture } from './helpers.js';

const params = (over: Partial<AssignParams>): AssignParams => ({ metric: 'l2', replicas: 3, candidateHeads: 3, closureEps: 10, rngFactor: 1, ...over });

describe('replica choice (closure bound + RNG rule) on hand-made points', () => {
  // x at the origin. c1 = (1, 0); c2 = (1.1, 0.1) sits right behind c1; c3 = (-1.2, 0) is the other way.
  const heads = new Float32Array([1, 0, 1.1, 0.1, -1.2, 0]);
  const cand = new Uint32Array([0, 1, 2]);
  const dist = new Float32Array([1, 1.1 ** 2 + 0.1 ** 2, 1.44]);
  const outH = new Uint32Array(3);
  const outD = new Float32Array(3);

  it('RNG rule skips a head that is closer to a chosen head than to x, keeps one in another direction', () => {
    const n = chooseReplicas(cand, dist, 3, denseHeads(heads, 2), 2, params({}), outH, outD, 0);
    expect(n).toBe(2);
    expect(Array.from(outH)).toEqual([0, 2, NO_ID]);
  });

  it('a large RNG factor switches the rule off: every head within the closure is kept', () => {
    const n = chooseReplicas(cand, dist, 3, denseHeads(heads, 2), 2, params({ rngFactor: 100 }), outH, outD, 0);
    expect(n).toBe(3);
    expect(Array.from(outH)).toEqual([0, 1, 2]);
  });

  it('closure bound: d(x,c) > (1+eps) d(x, nearest) stops the replicas', () => {
    // sqrt(1.44) = 1.2 > 1.1 * 1: c3 is outside eps = 0.1, and c2 is RNG-blocked.
    expect(chooseReplicas(cand, dist, 3, denseHeads(heads, 2), 2, params({ closureEps: 0.1 }), outH, outD, 0)).toBe(1);
    // eps = 0.25 admits c3 (1.2 <= 1.25).
    expect(chooseReplicas(cand, dist, 3, denseHeads(heads, 2), 2, params({ closureEps: 0.25 }), outH, outD, 0)).toBe(2);
  });

  it('never exceeds the replica count', () => {
    expect(chooseReplicas(cand, dist, 3, denseHeads(heads, 2), 2, params({ rngFactor: 100, replicas: 2 }), outH, outD, 0)).toBe(2);
  });
});

describe('balanced hierarchical clustering', () => {
  const dim = 16;
  const data = mixture(6000, dim, 3, 5, 0.05); // 5 tight clusters: plain k-means would be very uneven

  it('keeps every k-means cluster within maxImbalance × the mean size', () => {
    const rows = Uint32Array.from({ length: 6000 }, (_, i) => i);
    const km = balancedKMeans(data, dim, rows, 32, { iterations: 8, samplePerCluster: 64, maxImbalance: 1.5 }, createRng(1));
    const cap = Math.ceil((6000 / 32) * 1.5);
    expect(Math.max(...km.sizes)).toBeLessThanOrEqual(cap);
    expect(km.sizes.reduce((a, b) => a + b, 0)).toBe(6000);
  });

  it('selects about headRatio × n distinct real rows as heads', () => {
    const heads = selectHeads(data, dim, 6000, { headCount: 600, branching: 32, iterations: 8, samplePerCluster: 64, maxImbalance: 1.5, seed: 9 });
    expect(heads.length).toBeGreaterThanOrEqual(540);
    expect(heads.length).toBeLessThanOrEqual(630);
    expect(new Set(heads).size).toBe(heads.length);
    for (const h of heads) expect(h).toBeLessThan(6000);
  });

  it('shares a budget in proportion, at least one per non-empty child', () => {
    expect(shareBudget(10, [50, 30, 20])).toEqual([5, 3, 2]);
    expect(shareBudget(2, [100, 1, 1]).every((x) => x >= 1)).toBe(true);
    expect(shareBudget(5, [0, 10])).toEqual([0, 5]);
  });
});

describe('posting layout under the length cap', () => {
  it('lists stay within the cap; every vector keeps >= 1 replica or is reported as an orphan', () => {
    const rng = createRng(21);
    const n = 3000, R = 4, H = 60, limit = 120;
    const heads = new Uint32Array(n * R).fill(NO_ID);
    const dist = new Float32Array(n * R).fill(Infinity);
    for (let r = 0; r < n; r++) {
      const reps = 1 + rng.int(R);
      const used = new Set<number>();
      for (let j = 0; j < reps; j++) {
        let h = Math.floor(Math.abs(rng.gaussian()) * 8) % H; // skewed: low heads are popular
        while (used.has(h)) h = (h + 1) % H;
        used.add(h);
        heads[r * R + j] = h;
        dist[r * R + j] = j + rng.next();
      }
    }
    const layout = layoutPostings(heads, dist, n, R, H, limit);
    for (const list of layout.lists) expect(list.length).toBeLessThanOrEqual(limit);
    const seen = new Uint8Array(n);
    for (const list of layout.lists) for (const r of list) seen[r] = 1;
    for (const r of layout.orphans) {
      expect(seen[r]).toBe(0);
      seen[r] = 1;
    }
    expect(seen.every((x) => x === 1)).toBe(true);
    // nearest-first order inside each list
    for (let h = 0; h < H; h++) {
      const list = layout.lists[h];
      const d = Array.from(list, (r) => {
        for (let j = 0; j < R; j++) if (heads[r * R + j] === h) return dist[r * R + j];
        return NaN;
      });
      for (let i = 1; i < d.length; i++) expect(d[i]).toBeGreaterThanOrEqual(d[i - 1]);
    }
  });
});
