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
