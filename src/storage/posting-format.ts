/**
 * Binary layout of one posting list (one LMDB value), little-endian:
 *
 *   offset 0   u32 count            vectors in the list
 *   offset 4   u32 dim
 *   offset 8   u32 codec            0 = float32 (other codecs arrive with the compression issue)
 *   offset 12  u32 reserved (0)
 *   offset 16  u32 ids[count]       external ids
 *   then       f32 vectors[count * dim]
 *
 * Every section starts on a 4-byte boundary of the value, so when LMDB hands back a 4-aligned buffer
 * the ids and vectors are read in place through typed-array views (no copy, no per-vector objects).
 */
import { createError } from '../errors.js';

export const POSTING_HEADER_BYTES = 16;
export const CODEC_FLOAT32 = 0;

export function postingBytes(count: number, dim: number): number {
  return POSTING_HEADER_BYTES + 4 * count + 4 * count * dim;
}

/** Pack `rows` of `data` (row-major n×dim) with their external ids into one value. */
export function encodePosting(rows: ArrayLike<number>, count: number, ids: Uint32Array | null, data: Float32Array, dim: number): Uint8Array {
  const buf = new ArrayBuffer(postingBytes(count, dim));
  const head = new Uint32Array(buf, 0, 4);
  head[0] = count;
  head[1] = dim;
  head[2] = CODEC_FLOAT32;
  const outIds = new Uint32Array(buf, POSTING_HEADER_BYTES, count);
  const outVec = new Float32Array(buf, POSTING_HEADER_BYTES + 4 * count, count * dim);
  for (let i = 0; i < count; i++) {
    const r = rows[i];
    outIds[i] = ids ? ids[r] : r;
    outVec.set(data.subarray(r * dim, r * dim + dim), i * dim);
  }
  return new Uint8Array(buf);
}

/** A decoded view of one list; `ids` and `vectors` alias the source bytes when they were aligned. */
export interface PostingView {
  count: number;
  ids: Uint32Array;
  vectors: Float32Array;
}

/**
 * Reads a posting value. Aligned input is viewed in place; unaligned input is copied into `scratch`
 * (grown as needed and returned for reuse through `view.scratch`).
 */
export class PostingReader {
  private scratch = new ArrayBuffer(0);

  read(bytes: Uint8Array, expectDim: number, key: number): PostingView {
    if (bytes.length < POSTING_HEADER_BYTES) throw corrupt(key, `value of ${bytes.length} bytes is shorter than the header`);
    let buf = bytes.buffer as ArrayBuffer;
    let base = bytes.byteOffset;
    if ((base & 3) !== 0) {
      if (this.scratch.byteLength < bytes.length) this.scratch = new ArrayBuffer(Math.max(bytes.length, this.scratch.byteLength * 2));
      new Uint8Array(this.scratch, 0, bytes.length).set(bytes);
      buf = this.scratch;
      base = 0;
    }
    const head = new Uint32Array(buf, base, 4);
    const count = head[0];
    if (head[1] !== expectDim) throw corrupt(key, `dimension ${head[1]} differs from the index dimension ${expectDim}`);
    if (head[2] !== CODEC_FLOAT32) throw corrupt(key, `unknown codec ${head[2]}`);
    if (bytes.length < postingBytes(count, expectDim)) throw corrupt(key, `value of ${bytes.length} bytes is too short for ${count} vectors`);
    return {
      count,
      ids: new Uint32Array(buf, base + POSTING_HEADER_BYTES, count),
      vectors: new Float32Array(buf, base + POSTING_HEADER_BYTES + 4 * count, count * expectDim),
    };
  }
}

function corrupt(key: number, what: string) {
  return createError('STRATA_INDEX_CORRUPT', `posting list ${key}: ${what}`, 'postings');
}
