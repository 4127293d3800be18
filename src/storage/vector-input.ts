/**
 * Vectors from whatever file a user holds, by extension: TEXMEX .fvecs/.bvecs, big-ann .fbin, NumPy
 * .npy, ann-benchmarks HDF5 (.hdf5/.h5: its `train` set, or `test` for queries) and JSON (an array
 * of vectors, or one vector). Ids and tenants come from .npy/.ibin/.ivecs or text files (one per line).
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { createError } from '../errors.js';
import type { Metric } from './records.js';
import { readAnnBenchmarksHdf5 } from './hdf5.js';
import { readNpyNumbers, readNpyVectors } from './npy.js';
import { readFloatVectors, readIntVectors } from './vector-files.js';

export interface VectorInput {
  data: Float32Array;
  count: number;
  dim: number;
  /** The metric the file declares (ann-benchmarks HDF5), if any. */
  metric?: Metric;
}

export const VECTOR_EXTENSIONS = ['.fvecs', '.bvecs', '.fbin', '.npy', '.hdf5', '.h5', '.json'];

/** Vectors of a file; `part` picks an HDF5 file's `train` (default) or `test` set. */
export async function readVectorInput(path: string, part: 'train' | 'test' = 'train'): Promise<VectorInput> {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return readNpyVectors(path);
  if (ext === '.hdf5' || ext === '.h5') {
    const f = await readAnnBenchmarksHdf5(path);
    return part === 'train' ? { data: f.train, count: f.trainCount, dim: f.dim, metric: f.metric } : { data: f.test, count: f.testCount, dim: f.dim, metric: f.metric };
  }
  if (ext === '.json') return parseVectorsJson(readFileSync(path, 'utf8'), path);
  if (ext === '.fvecs' || ext === '.bvecs' || ext === '.fbin') return readFloatVectors(path);
  throw createError('STRATA_FILE_FORMAT', `${path}: unknown vector file extension ${JSON.stringify(ext)} (expected ${VECTOR_EXTENSIONS.join(', ')})`, 'path');
}

/** `[0.1, 0.2]` (one vector) or `[[…], […]]` (several), all of one dimension. */
export function parseVectorsJson(text: string, source = 'json'): VectorInput {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw createError('STRATA_FILE_FORMAT', `${source}: not JSON (${(err as Error).message})`, 'query');
  }
  const rows = Array.isArray(v) && v.every((x) => typeof x === 'number') ? [v as number[]] : (v as number[][]);
  if (!Array.isArray(rows) || rows.length === 0 || !rows.every((r) => Array.isArray(r) && r.length > 0 && r.every((x) => typeof x === 'number'))) {
    throw createError('STRATA_FILE_FORMAT', `${source}: expected a vector [x, …] or an array of vectors [[x, …], …]`, 'query');
  }
  const dim = rows[0].length;
  rows.forEach((r, i) => {
    if (r.length !== dim) throw createError('STRATA_DIMENSION_MISMATCH', `${source}: vector ${i} has ${r.length} components, vector 0 has ${dim}`, 'query');
  });
  return { data: Float32Array.from(rows.flat()), count: rows.length, dim };
}

/** Ids: .npy, .ibin/.ivecs (one column) or text (one unsigned integer per line). */
export function readIdInput(path: string): Uint32Array {
  const ext = extname(path).toLowerCase();
  let values: number[];
  if (ext === '.npy') values = readNpyNumbers(path);
  else if (ext === '.ibin' || ext === '.ivecs') {
    const r = readIntVectors(path);
    if (r.dim !== 1) throw createError('STRATA_FILE_FORMAT', `${path}: ids must be one column, the file has ${r.dim}`, 'ids');
    values = Array.from(r.data);
  } else values = readLines(path).map(Number);
  values.forEach((x, i) => {
    if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw createError('STRATA_INVALID_ID', `${path}: id ${i} (${x}) is not an unsigned 32-bit integer`, 'ids');
  });
  return Uint32Array.from(values);
}

/** Non-empty lines of a text file (tenant names, ids). */
export function readLines(path: string): string[] {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
