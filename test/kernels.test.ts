import { describe, expect, it } from 'vitest';
import { KERNELS, batchKernel } from '../src/index/kernels.js';
import { ipDistance, l2Squared } from '../src/index/distance.js';
import { createRng } from '../src/util/random.js';

describe('batch distance kernels', () => {
  it('the native addon is built and loaded (npm ci builds it from src/native)', () => {
    expect(KERNELS).toBe('native');
  });

  for (const dim of [1, 5, 16, 96, 784]) {
    it(`agree with the JS reference kernels at dim ${dim}, at offsets`, () => {
      const rng = createRng(dim);
      const count = 37;
      const q = Float32Array.from({ length: dim * 2 }, () => rng.gaussian());
      const base = Float32Array.from({ length: dim * (count + 3) }, () => rng.gaussian());
      const out = new Float32Array(count + 2);
      for (const [metric, ref] of [['l2', l2Squared], ['ip', ipDistance]] as const) {
        batchKernel(metric)(q, dim, base, 3 * dim, count, dim, out, 2);
        for (let i = 0; i < count; i++) {
          const want = ref(q, dim, base, (3 + i) * dim, dim);
          expect(Math.abs(out[2 + i] - want)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
        }
      }
    });
  }

  it('refuses ranges outside the arrays instead of reading past them', () => {
    const f = batchKernel('l2');
    expect(() => f(new Float32Array(4), 0, new Float32Array(8), 0, 3, 4, new Float32Array(3), 0)).toThrow(RangeError);
    expect(() => f(new Float32Array(4), 1, new Float32Array(8), 0, 2, 4, new Float32Array(2), 0)).toThrow(RangeError);
  });
});
