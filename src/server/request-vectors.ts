/** A vector from a request body, checked: its length is the collection's, every component finite (errors name the field). */
import { createError } from '../errors.js';

/** `values` as float32 into `out` at `at` (a new array when none is given); `field` names it in errors. */
export function readVector(values: readonly number[], dim: number, field: string, out = new Float32Array(dim), at = 0): Float32Array {
  if (values.length !== dim) throw createError('STRATA_DIMENSION_MISMATCH', `${field} has ${values.length} components, the collection ${dim}`, field);
  for (let j = 0; j < dim; j++) {
    if (!Number.isFinite(values[j])) throw createError('STRATA_NON_FINITE', `${field}[${j}] is not a finite number`, field);
    out[at + j] = values[j];
  }
  return out;
}
