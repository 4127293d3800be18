/**
 * The binary form of one cached chunk (an LMDB value, and the blob `GET .../chunks/{key}` serves):
 *
 *   'SKV1' | u32 version 1 | u32 dtype (0 f32, 1 f16, 2 f8 E4M3 with a scale per layer tensor)
 *   u32 layers | u32 kvHeads | u32 headDim | u32 length (tokens) | u32 basePosition
 *   f32 recomputeMs | u32 hasStats
 *   i32 tokens[length]
 *   f32 deviation[length]                     (when hasStats: per-token context sensitivity)
 *   f32 scales[2 x layers]                    (f8 only: K then V of each layer)
 *   per layer: K then V, kvHeads x length x headDim values of dtype, little-endian
 *
 * Everything a reader needs is in the value: an external serving engine can take the blob as is.
 */
import { createError } from '../errors.js';
import { decodeFloat8Array, E4M3, encodeFloat8Array } from '../index/codecs/float8.js';
import { decodeFloat16, encodeFloat16 } from '../util/float16.js';
import type { KvCache } from './kv-cache.js';

export type KvDtype = 'f32' | 'f16' | 'f8';
const DTYPES: KvDtype[] = ['f32', 'f16', 'f8'];
const MAGIC = 0x31564b53; // 'SKV1' little-endian
const HEADER = 44;

export interface ChunkEntry {
  tokens: Int32Array;
  /** Positions the cache was computed at start here (keys are rotated for basePosition + i). */
  basePosition: number;
  cache: KvCache;
  /** Per-token deviation between the chunk computed alone and in the context it first came in (null: unknown). */
  deviation: Float32Array | null;
  /** What computing the chunk cost, ms. */
  recomputeMs: number;
}

const bytesPer = (d: KvDtype) => (d === 'f32' ? 4 : d === 'f16' ? 2 : 1);

export function encodeEntry(e: ChunkEntry, dtype: KvDtype): Buffer {
  const c = e.cache;
  const n = c.length;
  const per = c.kvHeads * n * c.headDim;
  const scales = dtype === 'f8' ? 2 * c.layers : 0;
  const size = HEADER + 4 * n + (e.deviation ? 4 * n : 0) + 4 * scales + 2 * c.layers * per * bytesPer(dtype);
  const buf = Buffer.alloc(size);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  [MAGIC, 1, DTYPES.indexOf(dtype), c.layers, c.kvHeads, c.headDim, n, e.basePosition].forEach((v, i) => dv.setUint32(4 * i, v, true));
  dv.setFloat32(32, e.recomputeMs, true);
  dv.setUint32(36, e.deviation ? 1 : 0, true);
  let o = HEADER;
  for (let i = 0; i < n; i++, o += 4) dv.setInt32(o, e.tokens[i], true);
  if (e.deviation) for (let i = 0; i < n; i++, o += 4) dv.setFloat32(o, e.deviation[i], true);
  const tensors = c.keys.flatMap((k, l) => [k, c.values[l]]);
  const scaleAt = o;
  o += 4 * scales;
  tensors.forEach((t, i) => {
    if (dtype === 'f32') Buffer.from(t.buffer, t.byteOffset, t.byteLength).copy(buf, o);
    else if (dtype === 'f16') {
      const bits = new Uint16Array(per);
      encodeFloat16(t, bits);
      Buffer.from(bits.buffer).copy(buf, o);
    } else {
      let max = 0;
      for (let j = 0; j < t.length; j++) max = Math.max(max, Math.abs(t[j]));
      const scale = max > 0 ? max / E4M3.max : 1;
      dv.setFloat32(scaleAt + 4 * i, scale, true);
      const scaled = new Float32Array(per);
      for (let j = 0; j < per; j++) scaled[j] = t[j] / scale;
      encodeFloat8Array(E4M3, scaled, 0, new Uint8Array(buf.buffer, buf.byteOffset + o, per), 0, per);
    }
    o += per * bytesPer(dtype);
  });
  return buf;
}

export function decodeEntry(value: Uint8Array, where = 'entry'): ChunkEntry {
  const bad = (why: string) => createError('STRATA_INDEX_CORRUPT', `${where}: ${why}`, where);
  if (value.length < HEADER) throw bad(`${value.length} bytes is shorter than the header`);
  const dv = new DataView(value.buffer, value.byteOffset, value.length);
  if (dv.getUint32(0, true) !== MAGIC) throw bad('not a Strata KV entry (magic)');
  if (dv.getUint32(4, true) !== 1) throw bad(`version ${dv.getUint32(4, true)} is not 1`);
  const dtype = DTYPES[dv.getUint32(8, true)];
  if (!dtype) throw bad('unknown dtype');
  const [layers, kvHeads, headDim, n, basePosition] = [12, 16, 20, 24, 28].map((o) => dv.getUint32(o, true));
  const recomputeMs = dv.getFloat32(32, true);
  const hasStats = dv.getUint32(36, true) === 1;
  const per = kvHeads * n * headDim;
  const scales = dtype === 'f8' ? 2 * layers : 0;
  const expected = HEADER + 4 * n + (hasStats ? 4 * n : 0) + 4 * scales + 2 * layers * per * bytesPer(dtype);
  if (value.length !== expected) throw bad(`${value.length} bytes, the header implies ${expected}`);
  let o = HEADER;
  const tokens = new Int32Array(n);
  for (let i = 0; i < n; i++, o += 4) tokens[i] = dv.getInt32(o, true);
  let deviation: Float32Array | null = null;
  if (hasStats) {
    deviation = new Float32Array(n);
    for (let i = 0; i < n; i++, o += 4) deviation[i] = dv.getFloat32(o, true);
  }
  const scaleAt = o;
  o += 4 * scales;
  const tensors: Float32Array[] = [];
  const copy = Uint8Array.prototype.slice;
  for (let i = 0; i < 2 * layers; i++) {
    const t = new Float32Array(per);
    if (dtype === 'f32') t.set(new Float32Array(copy.call(value, o, o + 4 * per).buffer));
    else if (dtype === 'f16') decodeFloat16(new Uint16Array(copy.call(value, o, o + 2 * per).buffer), t);
    else {
      decodeFloat8Array(E4M3, value, o, t, 0, per);
      const scale = dv.getFloat32(scaleAt + 4 * i, true);
      for (let j = 0; j < per; j++) t[j] *= scale;
    }
    tensors.push(t);
    o += per * bytesPer(dtype);
  }
  return {
    tokens,
    basePosition,
    recomputeMs,
    deviation,
    cache: { layers, kvHeads, headDim, length: n, keys: tensors.filter((_, i) => i % 2 === 0), values: tensors.filter((_, i) => i % 2 === 1) },
  };
}
