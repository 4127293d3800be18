import { describe, expect, it } from 'vitest';
import { PcaTransform } from '../src/index/codecs/pca.js';
import { createRng } from '../src/util/random.js';
import { mixture } from './helpers.js';

describe('PCA', () => {
  const dim = 24;
  const data = mixture(2000, dim, 71, 12, 0.3);

  it('components are orthonormal', () => {
    const p = PcaTransform.fit(data, dim, { dims: 10 });
    for (let a = 0; a < 10; a++) {
      for (let b = 0; b < 10; b++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += p.components[a * dim + j] * p.components[b * dim + j];
        expect(s).toBeCloseTo(a === b ? 1 : 0, 4);
      }
    }
    for (let i = 1; i < 10; i++) expect(p.state.variances[i]).toBeLessThanOrEqual(p.state.variances[i - 1]);
  });

  it('reconstruction error decreases as more dimensions are kept, and vanishes at full rank', () => {
    let prev = Infinity;
    for (const k of [2, 6, 12, 18, 24]) {
      const p = PcaTransform.fit(data, dim, { dims: k });
      const y = new Float32Array(k), back = new Float32Array(dim);
      let err = 0;
      for (let i = 0; i < 300; i++) {
        p.project(data, i * dim, y, 0);
        p.reconstruct(y, 0, back, 0);
        for (let j = 0; j < dim; j++) err += (back[j] - data[i * dim + j]) ** 2;
      }
      expect(err).toBeLessThan(prev);
      prev = err;
      if (k === dim) expect(err / 300).toBeLessThan(1e-6);
    }
  });

  it('finds the direction of a planted low-rank signal', () => {
    const rng = createRng(3);
    const axis = Float32Array.from({ length: dim }, (_, j) => (j % 3 === 0 ? 1 : 0));
    const norm = Math.hypot(...axis);
    const x = new Float32Array(500 * dim);
    for (let i = 0; i < 500; i++) {
      const t = rng.gaussian() * 10;
      for (let j = 0; j < dim; j++) x[i * dim + j] = (t * axis[j]) / norm + 0.1 * rng.gaussian();
    }
    const p = PcaTransform.fit(x, dim, { dims: 1 });
    let cos = 0;
    for (let j = 0; j < dim; j++) cos += (p.components[j] * axis[j]) / norm;
    expect(Math.abs(cos)).toBeGreaterThan(0.99);
    expect(p.state.explained).toBeGreaterThan(0.9);
  });

  it('keeps a fraction of dimensions and refuses impossible targets', () => {
    expect(PcaTransform.fit(data, dim, { fraction: 0.5 }).outDim).toBe(12);
    expect(() => PcaTransform.fit(data, dim, { dims: 30 })).toThrowError(/STRATA_INVALID_OPTION/);
  });
});
