/**
 * Vector codecs for posting-list payloads. A codec turns a float32 vector of `dim` components into
 * `bytesPerVector` bytes and back, and computes distances from a float32 query to encoded vectors
 * WITHOUT materialising decoded vectors (float8: a 256-entry decode table read inline; int8: the
 * query is pre-transformed once per search). Trained state is plain JSON for the index metadata.
 */
import { createError } from '../../errors.js';
import type { Metric } from '../distance.js';
import { E4M3, E5M2, type Float8Format, encodeFloat8 } from './float8.js';
import { codeKernels } from '../kernels.js';
import { CODEC_NAMES, type CodecName, type CodecState } from '../../storage/records.js';
export { CODEC_IDS, CODEC_NAMES } from '../../storage/records.js';
export type { CodecName, CodecState } from '../../storage/records.js';




/** Per-search query state (a pre-transformed query) so distance loops do no setup work. */
export interface PreparedQuery {
  metric: Metric;
  q: Float32Array;
  /** Constant term added to every distance (int8 inner product). */
  bias: number;
  /** Per-dimension weights of an l2 distance (scaled float8), or null. */
  weights?: Float32Array | null;
}

export interface Codec {
  readonly name: CodecName;
  readonly dim: number;
  readonly bytesPerVector: number;
  /** Fit to a sample (row-major n×dim). Codecs without parameters ignore it. */
  train(sample: Float32Array): void;
  encode(src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number): void;
  decode(src: Uint8Array, srcOff: number, dst: Float32Array, dstOff: number): void;
  /** The query prepared for `distances`; a transformed query is written into `out` (dim floats) when given. */
  prepare(query: Float32Array, metric: Metric, out?: Float32Array): PreparedQuery;
  /** out[i] = distance(query, vector i) for `count` encoded vectors starting at codes[off]. */
  distances(p: PreparedQuery, codes: Uint8Array, off: number, count: number, out: Float32Array): void;
  state(): CodecState;
}

/** code -> code, so int8 codes scan like table-decoded float8 codes. */
const IDENTITY_TABLE = Float32Array.from({ length: 256 }, (_, c) => c);

/**
 * The JS fallback of every byte codec's scan (the native kernels replace it when built):
 *   l2: out[i] = sum_j ((q_j - table[c_ij]) w_j)^2      (w = 1 when null)
 *   ip: out[i] = 1 - (bias + sum_j q_j table[c_ij])
 */
function tableScan(p: PreparedQuery, table: Float32Array, w: Float32Array | null, codes: Uint8Array, off: number, count: number, dim: number, out: Float32Array): void {
  const q = p.q;
  for (let i = 0; i < count; i++) {
    const base = off + i * dim;
    let s = 0;
    if (p.metric === 'l2') {
      for (let j = 0; j < dim; j++) {
        const d = (q[j] - table[codes[base + j]]) * (w ? w[j] : 1);
        s += d * d;
      }
      out[i] = s;
    } else {
      for (let j = 0; j < dim; j++) s += q[j] * table[codes[base + j]];
      out[i] = 1 - (p.bias + s);
    }
  }
}

class Float32Codec implements Codec {
  readonly name = 'F32' as const;
  readonly bytesPerVector: number;
  private readonly scratch: Float32Array;
  constructor(readonly dim: number) {
    this.bytesPerVector = dim * 4;
    this.scratch = new Float32Array(dim);
  }
  train(): void {}
  encode(src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    new Float32Array(this.scratch.buffer).set(src.subarray(srcOff, srcOff + this.dim));
    dst.set(new Uint8Array(this.scratch.buffer), dstOff);
  }
  decode(src: Uint8Array, srcOff: number, dst: Float32Array, dstOff: number): void {
    new Uint8Array(this.scratch.buffer).set(src.subarray(srcOff, srcOff + this.bytesPerVector));
    dst.set(this.scratch, dstOff);
  }
  prepare(query: Float32Array, metric: Metric): PreparedQuery {
    return { metric, q: query, bias: 0 };
  }
  distances(p: PreparedQuery, codes: Uint8Array, off: number, count: number, out: Float32Array): void {
    const dim = this.dim;
    for (let i = 0; i < count; i++) {
      this.decode(codes, off + i * this.bytesPerVector, this.scratch, 0);
      let s = 0;
      if (p.metric === 'l2') for (let j = 0; j < dim; j++) s += (p.q[j] - this.scratch[j]) ** 2;
      else for (let j = 0; j < dim; j++) s += p.q[j] * this.scratch[j];
      out[i] = p.metric === 'l2' ? s : 1 - s;
    }
  }
  state(): CodecState {
    return { name: this.name, dim: this.dim };
  }
}

class Float8Codec implements Codec {
  readonly bytesPerVector: number;
  /** Per-dimension power-of-two scale (x is cast as x * scale), or null for the plain cast. */
  private scale: Float32Array | null;
  private invScale: Float32Array | null;
  constructor(
    readonly name: 'F8E4M3' | 'F8E5M2' | 'F8E4M3S' | 'F8E5M2S',
    readonly dim: number,
    private readonly fmt: Float8Format,
    state?: CodecState,
  ) {
    this.bytesPerVector = dim;
    const scaled = name.endsWith('S');
    this.scale = scaled ? new Float32Array(state?.scale ?? new Array(dim).fill(1)) : null;
    this.invScale = this.scale ? this.scale.map((v) => 1 / v) : null;
  }
  /**
   * Scaled variants: per dimension, the power of two that brings the sample's largest magnitude to
   * between a quarter and half of the format's max. A power of two keeps every value's relative
   * precision; it only moves the dimension away from saturation (and from subnormals).
   */
  train(sample: Float32Array): void {
    if (!this.scale) return;
    const dim = this.dim, n = sample.length / dim;
    const maxAbs = new Float32Array(dim);
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) maxAbs[j] = Math.max(maxAbs[j], Math.abs(sample[i * dim + j]));
    for (let j = 0; j < dim; j++) this.scale[j] = maxAbs[j] > 0 ? 2 ** Math.floor(Math.log2(this.fmt.max / 2 / maxAbs[j])) : 1;
    this.invScale = this.scale.map((v) => 1 / v);
  }
  encode(src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    const sc = this.scale;
    for (let j = 0; j < this.dim; j++) dst[dstOff + j] = encodeFloat8(this.fmt, sc ? src[srcOff + j] * sc[j] : src[srcOff + j]);
  }
  decode(src: Uint8Array, srcOff: number, dst: Float32Array, dstOff: number): void {
    const t = this.fmt.table, inv = this.invScale;
    for (let j = 0; j < this.dim; j++) dst[dstOff + j] = inv ? t[src[srcOff + j]] * inv[j] : t[src[srcOff + j]];
  }
  prepare(query: Float32Array, metric: Metric, out?: Float32Array): PreparedQuery {
    if (!this.scale) return { metric, q: query, bias: 0 };
    // l2: sum ((q s - c) / s)^2 -> query times scale, weights 1/s. ip: sum q (c / s) -> query / s.
    const q = out ?? new Float32Array(this.dim);
    for (let j = 0; j < this.dim; j++) q[j] = metric === 'l2' ? query[j] * this.scale[j] : query[j] * this.invScale![j];
    return { metric, q, bias: 0, weights: metric === 'l2' ? this.invScale : null };
  }
  distances(p: PreparedQuery, codes: Uint8Array, off: number, count: number, out: Float32Array): void {
    const t = this.fmt.table, q = p.q, dim = this.dim, w = p.weights ?? null;
    if (codeKernels) {
      const fmt = this.fmt === E4M3 ? 0 : 1;
      if (w) codeKernels.lutL2WBatch(q, t, w, codes, off, count, dim, out, fmt);
      else (p.metric === 'l2' ? codeKernels.lutL2Batch : codeKernels.lutIpBatch)(q, t, codes, off, count, dim, out, fmt);
      return;
    }
    tableScan(p, t, w, codes, off, count, dim, out);
  }
  state(): CodecState {
    return { name: this.name, dim: this.dim, ...(this.scale ? { scale: Array.from(this.scale) } : {}) };
  }
}

/** Per-dimension min/max scalar quantisation to 256 levels: x ≈ min_j + c * step_j. */
class Int8Codec implements Codec {
  readonly name = 'INT8' as const;
  readonly bytesPerVector: number;
  private min: Float32Array;
  private step: Float32Array;
  constructor(
    readonly dim: number,
    state?: CodecState,
  ) {
    this.bytesPerVector = dim;
    this.min = new Float32Array(state?.min ?? new Array(dim).fill(0));
    this.step = new Float32Array(state?.step ?? new Array(dim).fill(1 / 255));
  }
  train(sample: Float32Array): void {
    const dim = this.dim, n = sample.length / dim;
    if (n < 1) throw createError('STRATA_EMPTY_INPUT', 'INT8 codec training needs at least one vector', 'sample');
    const lo = new Float32Array(dim).fill(Infinity), hi = new Float32Array(dim).fill(-Infinity);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) {
        const x = sample[i * dim + j];
        if (x < lo[j]) lo[j] = x;
        if (x > hi[j]) hi[j] = x;
      }
    }
    for (let j = 0; j < dim; j++) {
      this.min[j] = lo[j];
      this.step[j] = hi[j] > lo[j] ? (hi[j] - lo[j]) / 255 : 1;
    }
  }
  encode(src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    for (let j = 0; j < this.dim; j++) {
      const c = Math.round((src[srcOff + j] - this.min[j]) / this.step[j]);
      dst[dstOff + j] = c < 0 ? 0 : Math.min(c, 255);
    }
  }
  decode(src: Uint8Array, srcOff: number, dst: Float32Array, dstOff: number): void {
    for (let j = 0; j < this.dim; j++) dst[dstOff + j] = this.min[j] + src[srcOff + j] * this.step[j];
  }
  prepare(query: Float32Array, metric: Metric, out?: Float32Array): PreparedQuery {
    const q = out ?? new Float32Array(this.dim);
    let bias = 0;
    if (metric === 'l2') for (let j = 0; j < this.dim; j++) q[j] = (query[j] - this.min[j]) / this.step[j];
    else
      for (let j = 0; j < this.dim; j++) {
        q[j] = query[j] * this.step[j];
        bias += query[j] * this.min[j];
      }
    return { metric, q, bias };
  }
  distances(p: PreparedQuery, codes: Uint8Array, off: number, count: number, out: Float32Array): void {
    const q = p.q, dim = this.dim, step = this.step;
    if (codeKernels) {
      if (p.metric === 'l2') codeKernels.u8L2Batch(q, step, codes, off, count, dim, out);
      else codeKernels.u8IpBatch(q, p.bias, codes, off, count, dim, out);
      return;
    }
    // An int8 code is a table lookup through the identity table, weighted by the step:
    // (q_j - min_j - c step_j)^2 = step_j^2 (q'_j - c)^2 with q'_j = (q_j - min_j) / step_j.
    tableScan(p, IDENTITY_TABLE, p.metric === 'l2' ? step : null, codes, off, count, dim, out);
  }
  state(): CodecState {
    return { name: this.name, dim: this.dim, min: Array.from(this.min), step: Array.from(this.step) };
  }
}

/** Make a codec by name, optionally restoring trained state saved by `state()`. */
export function createCodec(name: string, dim: number, state?: CodecState): Codec {
  switch (name) {
    case 'F32':
      return new Float32Codec(dim);
    case 'F8E4M3':
    case 'F8E4M3S':
      return new Float8Codec(name, dim, E4M3, state);
    case 'F8E5M2':
    case 'F8E5M2S':
      return new Float8Codec(name, dim, E5M2, state);
    case 'INT8':
      return new Int8Codec(dim, state);
    default:
      throw createError('STRATA_INVALID_OPTION', `codec must be one of ${CODEC_NAMES.join(', ')}, got ${JSON.stringify(name)}`, 'codec');
  }
}

export function restoreCodec(state: CodecState): Codec {
  return createCodec(state.name, state.dim, state);
}
