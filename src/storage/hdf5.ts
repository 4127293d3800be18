/**
 * Reader for ann-benchmarks HDF5 files (train / test / neighbors / distances datasets and a
 * `distance` attribute), through h5wasm (the HDF5 C library compiled to WebAssembly).
 */
import { createError } from '../errors.js';
import type { Metric } from './records.js';
import { sharedFloat32 } from '../util/workers.js';

export interface AnnBenchmarksFile {
  train: Float32Array;
  test: Float32Array;
  dim: number;
  trainCount: number;
  testCount: number;
  /** Ground-truth neighbour ids (testCount × gtK), when present. */
  neighbors?: Int32Array;
  gtK: number;
  metric: Metric;
  /** The file's own `distance` attribute. */
  distance: string;
}

/** ann-benchmarks distance names -> Strata metrics. */
export function metricFromAnnDistance(distance: string): Metric {
  if (distance === 'euclidean') return 'l2';
  if (distance === 'angular') return 'cosine';
  if (distance === 'dot' || distance === 'ip') return 'ip';
  throw createError('STRATA_UNKNOWN_METRIC', `HDF5 distance attribute ${JSON.stringify(distance)} is not euclidean, angular or dot`, 'distance');
}

export async function readAnnBenchmarksHdf5(path: string): Promise<AnnBenchmarksFile> {
  const h5wasm = await import('h5wasm/node');
  await h5wasm.ready;
  let file: InstanceType<typeof h5wasm.File>;
  try {
    file = new h5wasm.File(path, 'r');
  } catch (err) {
    throw createError('STRATA_FILE_FORMAT', `${path}: not a readable HDF5 file (${(err as Error).message})`, 'path');
  }
  try {
    const dataset = (name: string, required: boolean) => {
      const d = file.get(name);
      if (!d || !(d instanceof h5wasm.Dataset)) {
        if (required) throw createError('STRATA_FILE_FORMAT', `${path}: dataset ${JSON.stringify(name)} is missing`, 'path');
        return undefined;
      }
      return d;
    };
    const train = dataset('train', true)!;
    const test = dataset('test', true)!;
    const shape = train.shape ?? [];
    if (shape.length !== 2 || (test.shape ?? [])[1] !== shape[1]) {
      throw createError('STRATA_FILE_FORMAT', `${path}: train ${JSON.stringify(train.shape)} and test ${JSON.stringify(test.shape)} are not n×d with the same d`, 'path');
    }
    const dim = Number(shape[1]);
    const toF32 = (v: unknown): Float32Array => {
      const src = v as ArrayLike<number>;
      const out = sharedFloat32(src.length);
      out.set(src);
      return out;
    };
    const attr = file.attrs.distance;
    const distance = attr ? String(attr.value) : 'euclidean';
    const nb = dataset('neighbors', false);
    const trainData = toF32(train.value);
    const testData = toF32(test.value);
    return {
      train: trainData,
      test: testData,
      dim,
      trainCount: trainData.length / dim,
      testCount: testData.length / dim,
      neighbors: nb ? Int32Array.from(nb.value as ArrayLike<number>) : undefined,
      gtK: nb ? Number((nb.shape ?? [0, 0])[1]) : 0,
      metric: metricFromAnnDistance(distance),
      distance,
    };
  } finally {
    file.close();
  }
}
