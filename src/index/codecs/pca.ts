/**
 * PCA dimensionality reduction for posting-list payloads: fitted on a sample (mean, covariance,
 * symmetric eigendecomposition by ml-matrix), keeping the leading components. Vectors are stored as
 * y = P (x - mean); the query is projected once per search. Heads and Refine vectors stay in the
 * original space.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { createError } from '../../errors.js';
import { batchKernel } from '../kernels.js';
import type { PcaState } from '../../storage/records.js';
export type { PcaState } from '../../storage/records.js';

const ipBatch = batchKernel('ip');


/** How many dimensions to keep: a count, or a fraction of the input dimensions. */
export type PcaTarget = { dims: number } | { fraction: number };

export class PcaTransform {
  readonly inDim: number;
  readonly outDim: number;
  readonly mean: Float32Array;
  readonly components: Float32Array;
  readonly state: PcaState;
  /** P mean, so a centred projection is P x - P mean. */
  private readonly meanProj: Float32Array;

  private constructor(state: PcaState) {
    this.state = state;
    this.inDim = state.inDim;
    this.outDim = state.outDim;
    this.mean = Float32Array.from(state.mean);
    this.components = Float32Array.from(state.components);
    this.meanProj = new Float32Array(this.outDim);
    this.project(this.mean, 0, this.meanProj, 0, false);
  }

  static restore(state: PcaState): PcaTransform {
    return new PcaTransform(state);
  }

  /** Fit on a row-major sample of n × dim. */
  static fit(sample: Float32Array, dim: number, target: PcaTarget): PcaTransform {
    const n = sample.length / dim;
    const outDim = 'dims' in target ? target.dims : Math.max(1, Math.round(dim * target.fraction));
    if (!Number.isInteger(outDim) || outDim < 1 || outDim > dim) {
      throw createError('STRATA_INVALID_OPTION', `PCA must keep between 1 and ${dim} dimensions, got ${outDim}`, 'spec');
    }
    if (n < 2) throw createError('STRATA_EMPTY_INPUT', 'PCA needs at least two sample vectors', 'sample');
    const mean = new Float64Array(dim);
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += sample[i * dim + j];
    for (let j = 0; j < dim; j++) mean[j] /= n;
    // Covariance, upper triangle accumulated row by row, mirrored after.
    const cov = new Float64Array(dim * dim);
    const row = new Float64Array(dim);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) row[j] = sample[i * dim + j] - mean[j];
      for (let a = 0; a < dim; a++) {
        const ra = row[a];
        if (ra === 0) continue;
        const base = a * dim;
        for (let b = a; b < dim; b++) cov[base + b] += ra * row[b];
      }
    }
    const m = new Matrix(dim, dim);
    for (let a = 0; a < dim; a++) {
      for (let b = a; b < dim; b++) {
        const v = cov[a * dim + b] / (n - 1);
        m.set(a, b, v);
        m.set(b, a, v);
      }
    }
    const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
    const values = evd.realEigenvalues;
    const vectors = evd.eigenvectorMatrix;
    const order = values.map((v, i) => [v, i] as const).sort((x, y) => y[0] - x[0]);
    const total = values.reduce((s, v) => s + Math.max(0, v), 0);
    const components: number[] = [];
    const variances: number[] = [];
    let kept = 0;
    for (let c = 0; c < outDim; c++) {
      const [v, idx] = order[c];
      variances.push(v);
      kept += Math.max(0, v);
      for (let j = 0; j < dim; j++) components.push(vectors.get(j, idx));
    }
    return new PcaTransform({ inDim: dim, outDim, mean: Array.from(mean), components, variances, explained: total > 0 ? kept / total : 1 });
  }

  /** dst[dstOff..+outDim) = P (src[srcOff..+inDim) - mean), or P src when `center` is false. */
  project(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, center = true): void {
    // One batch kernel call: the ip kernel yields 1 - <x, axis_c> for every axis.
    ipBatch(src, srcOff, this.components, 0, this.outDim, this.inDim, dst, dstOff);
    for (let c = 0; c < this.outDim; c++) dst[dstOff + c] = 1 - dst[dstOff + c] - (center && this.meanProj ? this.meanProj[c] : 0);
  }

  /** Project n rows (row-major n × inDim) into a new n × outDim array. */
  projectRows(data: Float32Array, n: number): Float32Array {
    const out = new Float32Array(n * this.outDim);
    for (let r = 0; r < n; r++) this.project(data, r * this.inDim, out, r * this.outDim);
    return out;
  }

  /** Map a projected vector back: mean + Pᵀ y. */
  reconstruct(y: Float32Array, yOff: number, dst: Float32Array, dstOff: number): void {
    const { inDim, outDim, components, mean } = this;
    for (let j = 0; j < inDim; j++) dst[dstOff + j] = mean[j];
    for (let c = 0; c < outDim; c++) {
      const v = y[yOff + c];
      const base = c * inDim;
      for (let j = 0; j < inDim; j++) dst[dstOff + j] += v * components[base + j];
    }
  }
}
