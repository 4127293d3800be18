/** Input checks shared by build, search and exact search. Each names the offending field. */
import { createError } from '../errors.js';

/** Accepts a Float32Array or number[]; returns a Float32Array (no copy when already one). */
export function toFloat32(value: unknown, field: string): Float32Array {
  if (value instanceof Float32Array) return value;
  if (Array.isArray(value)) {
    const out = new Float32Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const x = value[i];
      if (typeof x !== 'number') {
        throw createError('STRATA_INVALID_OPTION', `${field}[${i}] must be a number, got ${typeof x}`, field);
      }
      out[i] = x;
    }
    return out;
  }
  throw createError('STRATA_INVALID_OPTION', `${field} must be a Float32Array or an array of numbers`, field);
}

/** Check that `data` is a whole number of `dim`-vectors, all finite. Returns the vector count. */
export function checkVectors(data: Float32Array, dim: number, field: string): number {
  if (data.length === 0) throw createError('STRATA_EMPTY_INPUT', `${field} holds no vectors`, field);
  if (data.length % dim !== 0) {
    throw createError(
      'STRATA_DIMENSION_MISMATCH',
      `${field} has ${data.length} values, not a multiple of the index dimension ${dim}`,
      field,
    );
  }
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (x - x !== 0) {
      throw createError(
        'STRATA_NON_FINITE',
        `${field} holds ${x} at vector ${Math.floor(i / dim)}, component ${i % dim}`,
        field,
      );
    }
  }
  return data.length / dim;
}

/** A single query: exactly `dim` finite values. */
export function checkQuery(value: unknown, dim: number, field = 'query'): Float32Array {
  const q = toFloat32(value, field);
  if (q.length !== dim) {
    throw createError('STRATA_DIMENSION_MISMATCH', `${field} has ${q.length} components, the index has ${dim}`, field);
  }
  checkVectors(q, dim, field);
  return q;
}

export function checkK(k: unknown, field = 'k'): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k <= 0) {
    throw createError('STRATA_INVALID_K', `${field} must be a positive integer, got ${JSON.stringify(k)}`, field);
  }
  return k;
}

/** External ids are unsigned 32-bit integers, unique within one build. */
export function checkIds(ids: unknown, n: number, field = 'ids'): Uint32Array {
  let out: Uint32Array;
  if (ids instanceof Uint32Array) out = ids;
  else if (Array.isArray(ids)) {
    out = new Uint32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 0xffffffff) {
        throw createError('STRATA_INVALID_ID', `${field}[${i}] must be an integer in [0, 2^32 - 2], got ${JSON.stringify(v)}`, field);
      }
      out[i] = v;
    }
  } else throw createError('STRATA_INVALID_ID', `${field} must be a Uint32Array or an array of integers`, field);
  if (out.length !== n) {
    throw createError('STRATA_INVALID_ID', `${field} has ${out.length} entries for ${n} vectors`, field);
  }
  const sorted = Uint32Array.from(out).sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw createError('STRATA_INVALID_ID', `${field} repeats id ${sorted[i]}`, field);
  }
  if (sorted.length > 0 && sorted[sorted.length - 1] === 0xffffffff) {
    throw createError('STRATA_INVALID_ID', `${field} uses the reserved id 4294967295`, field);
  }
  return out;
}

/** Rows of numbers (each exactly `dim` long) as one row-major Float32Array. */
export function flattenRows(rows: number[][], dim: number, field = 'vectors'): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (!Array.isArray(row) || row.length !== dim) {
      throw createError(
        'STRATA_DIMENSION_MISMATCH',
        `${field}[${i}] has ${Array.isArray(row) ? row.length : 'no'} components, the index has ${dim}`,
        field,
      );
    }
    for (let j = 0; j < dim; j++) {
      const x = row[j];
      if (typeof x !== 'number') throw createError('STRATA_INVALID_OPTION', `${field}[${i}][${j}] must be a number`, field);
      out[i * dim + j] = x;
    }
  }
  return out;
}
