import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFloatVectors, readIntVectors, writeVectors } from '../src/storage/vector-files.js';
import { readAnnBenchmarksHdf5 } from '../src/storage/hdf5.js';
import { parseIdxImages } from '../src/datasets/fashion-mnist.js';
import { writeMixtureFbin } from '../src/datasets/synthetic.js';
import { parseSyntheticName, recallAtK } from '../src/datasets/registry.js';
import { StrataError } from '../src/errors.js';
import { mixture, tempDir } from './helpers.js';

const tmp = tempDir('vio');
afterAll(() => tmp.cleanup());

describe('vector files', () => {
  const data = mixture(37, 5, 1);

  for (const ext of ['fvecs', 'fbin']) {
    it(`${ext} round-trips float vectors exactly`, () => {
      const p = join(tmp.dir, `a.${ext}`);
      writeVectors(p, data, 5);
      const r = readFloatVectors(p);
      expect([r.count, r.dim]).toEqual([37, 5]);
      expect(Array.from(r.data)).toEqual(Array.from(data));
      expect(r.data.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(Array.from(readFloatVectors(p, 3).data)).toEqual(Array.from(data.subarray(0, 15)));
    });
  }

  for (const ext of ['ivecs', 'ibin']) {
    it(`${ext} round-trips integer vectors`, () => {
      const ints = Int32Array.from({ length: 40 }, (_, i) => i * 1000 - 7);
      const p = join(tmp.dir, `b.${ext}`);
      writeVectors(p, ints, 4);
      const r = readIntVectors(p);
      expect([r.count, r.dim]).toEqual([10, 4]);
      expect(Array.from(r.data)).toEqual(Array.from(ints));
    });
  }

  it('bvecs widens bytes to float32', () => {
    const bytes = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    const p = join(tmp.dir, 'c.bvecs');
    writeVectors(p, bytes, 3);
    expect(Array.from(readFloatVectors(p).data)).toEqual(Array.from(bytes));
  });

  it('truncated and inconsistent files get STRATA_FILE_FORMAT', () => {
    const p = join(tmp.dir, 'bad.fvecs');
    writeFileSync(p, Buffer.from([4, 0, 0, 0, 1, 2, 3]));
    expect(() => readFloatVectors(p)).toThrow(StrataError);
    const q = join(tmp.dir, 'bad.fbin');
    writeFileSync(q, Buffer.from([10, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]));
    expect(() => readFloatVectors(q)).toThrowError(/does not match header/);
    expect(() => readFloatVectors(join(tmp.dir, 'x.txt'))).toThrowError(/STRATA_FILE_FORMAT/);
  });
});

describe('ann-benchmarks HDF5', () => {
  it('reads train/test/neighbors and maps the distance attribute', async () => {
    const h5wasm = await import('h5wasm/node');
    await h5wasm.ready;
    const p = join(tmp.dir, 'tiny-angular.hdf5');
    const f = new h5wasm.File(p, 'w');
    const train = mixture(20, 3, 2);
    f.create_dataset({ name: 'train', data: train, shape: [20, 3], dtype: '<f' });
    f.create_dataset({ name: 'test', data: mixture(4, 3, 3), shape: [4, 3], dtype: '<f' });
    f.create_dataset({ name: 'neighbors', data: Int32Array.from({ length: 8 }, (_, i) => i), shape: [4, 2], dtype: '<i' });
    f.create_attribute('distance', 'angular');
    f.close();
    const r = await readAnnBenchmarksHdf5(p);
    expect([r.trainCount, r.testCount, r.dim, r.gtK, r.metric]).toEqual([20, 4, 3, 2, 'cosine']);
    expect(Array.from(r.train)).toEqual(Array.from(train));
    expect(Array.from(r.neighbors!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('a non-HDF5 file is a STRATA_FILE_FORMAT error', async () => {
    const p = join(tmp.dir, 'not.hdf5');
    writeFileSync(p, 'hello');
    await expect(readAnnBenchmarksHdf5(p)).rejects.toMatchObject({ code: 'STRATA_FILE_FORMAT' });
  });
});

describe('datasets', () => {
  it('the synthetic generator is deterministic for a seed and differs across seeds', () => {
    const o = { n: 500, dim: 8, clusters: 10, spread: 0.1, seed: 3 };
    const [a, b, c] = ['a', 'b', 'c'].map((x) => join(tmp.dir, `${x}.fbin`));
    writeMixtureFbin(a, o, 500, 1);
    writeMixtureFbin(b, o, 500, 1);
    writeMixtureFbin(c, { ...o, seed: 4 }, 500, 1);
    expect(Array.from(readFloatVectors(a).data)).toEqual(Array.from(readFloatVectors(b).data));
    expect(Array.from(readFloatVectors(a).data)).not.toEqual(Array.from(readFloatVectors(c).data));
  });

  it('parses dataset names', () => {
    expect(parseSyntheticName('synthetic-1m-96')).toMatchObject({ n: 1_000_000, dim: 96 });
    expect(parseSyntheticName('synthetic-20k-64')).toMatchObject({ n: 20_000, dim: 64 });
    expect(parseSyntheticName('fashion-mnist')).toBeUndefined();
  });

  it('parses IDX image files as used by Fashion-MNIST', () => {
    const bytes = new Uint8Array(16 + 2 * 4);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(0, 0x803);
    dv.setUint32(4, 2);
    dv.setUint32(8, 2);
    dv.setUint32(12, 2);
    bytes.set([0, 255, 3, 4, 5, 6, 7, 8], 16);
    const r = parseIdxImages(bytes, 'mem');
    expect([r.count, r.dim]).toEqual([2, 4]);
    expect(Array.from(r.data)).toEqual([0, 255, 3, 4, 5, 6, 7, 8]);
    expect(() => parseIdxImages(bytes.subarray(0, 20), 'mem')).toThrowError(/STRATA_FILE_FORMAT/);
  });

  it('recall@k counts hits against ground truth', () => {
    expect(recallAtK(new Uint32Array([1, 2, 3, 4]), 2, new Int32Array([2, 1, 9, 3, 9, 4]), 3, 2)).toBe(0.75);
  });
});
