import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeVectors } from '../src/storage/vector-files.js';
import { exactSearch } from '../src/index/exact.js';
import { mixture, tempDir } from './helpers.js';

const tmp = tempDir('datasets');
let registry: typeof import('../src/datasets/registry.js');

beforeAll(async () => {
  process.env.STRATA_DATASETS_DIR = join(tmp.dir, 'prepared');
  registry = await import('../src/datasets/registry.js');
});
afterAll(() => tmp.cleanup());

describe('loading datasets by path', () => {
  const dim = 6;
  const base = mixture(400, dim, 1);
  const queries = mixture(12, dim, 2);

  it('a folder of .fvecs files gets ground truth computed by exact search and cached', async () => {
    const dir = join(tmp.dir, 'myset');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeVectors(join(dir, 'base.fvecs'), base, dim);
    writeVectors(join(dir, 'query.fvecs'), queries, dim);
    const d = await registry.loadDataset(dir);
    expect([d.name, d.baseCount, d.queryCount, d.dim, d.gtK]).toEqual(['myset', 400, 12, dim, 100]);
    expect(existsSync(join(dir, 'groundtruth.ibin'))).toBe(true);
    const truth = await exactSearch(base, queries, dim, 10);
    expect(Array.from(d.groundTruth.subarray(0, 10))).toEqual(Array.from(truth.ids.subarray(0, 10)));
    const light = await registry.loadDataset(dir, { withBase: false, maxQueries: 5 });
    expect([light.base.length, light.baseCount, light.queryCount]).toEqual([0, 400, 5]);
  });

  it('an ann-benchmarks HDF5 file is converted once into a prepared folder', async () => {
    const h5wasm = await import('h5wasm/node');
    await h5wasm.ready;
    const file = join(tmp.dir, 'tiny-euclidean.hdf5');
    const f = new h5wasm.File(file, 'w');
    f.create_dataset({ name: 'train', data: base, shape: [400, dim], dtype: '<f' });
    f.create_dataset({ name: 'test', data: queries, shape: [12, dim], dtype: '<f' });
    f.create_attribute('distance', 'euclidean');
    f.close();
    const d = await registry.loadDataset(file);
    expect([d.name, d.metric, d.baseCount, d.queryCount]).toEqual(['tiny-euclidean', 'l2', 400, 12]);
    expect(existsSync(join(tmp.dir, 'prepared', 'tiny-euclidean', 'base.fbin'))).toBe(true);
    expect(Array.from(d.base)).toEqual(Array.from(base));
  });

  it('an unknown name is STRATA_DATASET_MISSING', async () => {
    await expect(registry.loadDataset('no-such-dataset')).rejects.toMatchObject({ code: 'STRATA_DATASET_MISSING' });
  });
});

describe('synthetic-aniso: seeded hard data', () => {
  it('is the same vectors for the same seed, named by size, and a regenerated set drops the indexes built from the old one', async () => {
    const { mkdirSync, readFileSync, writeFileSync } = await import('node:fs');
    const dir = await registry.prepareDataset('synthetic-aniso-3k-16', { synthetic: { queries: 20 } });
    const d = await registry.loadDataset(dir);
    expect([d.baseCount, d.dim, d.queryCount, d.metric]).toEqual([3000, 16, 20, 'l2']);
    const first = readFileSync(join(dir, 'base.fbin'));
    // A bench left an index here; regenerating (same seed) writes the same bytes and removes it.
    mkdirSync(join(dir, registry.INDEXES_DIR, 'strata-index'), { recursive: true });
    writeFileSync(join(dir, registry.INDEXES_DIR, 'strata-index', 'strata.mdb'), 'x');
    await registry.prepareDataset('synthetic-aniso-3k-16', { synthetic: { queries: 20 }, force: true });
    expect(readFileSync(join(dir, 'base.fbin')).equals(first)).toBe(true);
    expect(existsSync(join(dir, registry.INDEXES_DIR))).toBe(false);
    // Anisotropic: the variance of the data is concentrated in few directions (the spectrum decays).
    const mean = new Float64Array(16);
    for (let i = 0; i < 3000; i++) for (let j = 0; j < 16; j++) mean[j] += d.base[i * 16 + j] / 3000;
    const cov = new Float64Array(16 * 16);
    for (let i = 0; i < 3000; i++)
      for (let a = 0; a < 16; a++) for (let b = 0; b < 16; b++) cov[a * 16 + b] += (d.base[i * 16 + a] - mean[a]) * (d.base[i * 16 + b] - mean[b]);
    let trace = 0;
    for (let a = 0; a < 16; a++) trace += cov[a * 16 + a];
    let v = new Float64Array(16).fill(1), top = 0;
    for (let it = 0; it < 100; it++) {
      const w = new Float64Array(16);
      for (let a = 0; a < 16; a++) for (let b = 0; b < 16; b++) w[a] += cov[a * 16 + b] * v[b];
      top = Math.hypot(...w);
      v = w.map((x) => x / top);
    }
    // Isotropic data would put 1/16 of the variance on its top direction; a 1/(1+i) spectrum ~30%.
    expect(top / trace).toBeGreaterThan(0.2);
    // ... and turned by a rotation: no single coordinate carries that share.
    for (let a = 0; a < 16; a++) expect(cov[a * 16 + a] / trace).toBeLessThan(0.2);
    const other = await registry.prepareDataset('synthetic-aniso-3k-16', { synthetic: { queries: 20, seed: 99 }, force: true });
    expect(readFileSync(join(other, 'base.fbin')).equals(first)).toBe(false);
  });
});
