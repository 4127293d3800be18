/**
 * Binary layout of one posting list (one LMDB value), little-endian:
 *
 *   offset 0   u32 count            vectors in the list
 *   offset 4   u32 dim              components per (decoded) vector
 *   offset 8   u32 codec            CODEC_IDS: 0 = F32, 1 = F8E4M3, 2 = F8E5M2, 3 = INT8
 *   offset 12  u32 bytesPerVector   encoded size of one vector
 *   offset 16  u32 ids[count]       external ids
 *   then       codes[count * bytesPerVector]   (F32: the float32 vectors themselves)
 *
 * Every section starts on a 4-byte boundary of the value, so when LMDB hands back a 4-aligned buffer
 * F32 vectors are read in place through a Float32Array view (no copy, no per-vector objects); other
 * codecs are read in place as bytes.
 */
import { createError } from '../errors.js';
import { CODEC_IDS, type PostingEncoder } from './records.js';

export const POSTING_HEADER_BYTES = 16;

export function postingBytes(count: number, bytesPerVector: number): number {
  return POSTING_HEADER_BYTES + 4 * count + count * bytesPerVector;
}

/** Pack `rows` of `data` (row-major n×dim floats) with their external ids, encoded by `codec`. */
export function encodePosting(rows: ArrayLike<number>, count: number, ids: Uint32Array | null, data: Float32Array, dim: number, codec: PostingEncoder): Uint8Array {
  const bpv = codec.bytesPerVector;
  const buf = new ArrayBuffer(postingBytes(count, bpv));
  const head = new Uint32Array(buf, 0, 4);
  head[0] = count;
  head[1] = dim;
  head[2] = CODEC_IDS[codec.name];
  head[3] = bpv;
  const outIds = new Uint32Array(buf, POSTING_HEADER_BYTES, count);
  const codes = new Uint8Array(buf, POSTING_HEADER_BYTES + 4 * count, count * bpv);
  for (let i = 0; i < count; i++) {
    const r = rows[i];
    outIds[i] = ids ? ids[r] : r;
    codec.encode(data, r * dim, codes, i * bpv);
  }
  return new Uint8Array(buf);
}

/** A view of one list; `ids`, `codes` and (F32 only) `vectors` alias the source bytes when aligned. */
export interface PostingView {
  count: number;
  ids: Uint32Array;
  codes: Uint8Array;
  /** The float32 vectors, for the F32 codec only. */
  vectors: Float32Array | null;
}

/** Reads posting values; unaligned input is copied into a reused scratch buffer first. */
export class PostingReader {
  private scratch = new ArrayBuffer(0);

  constructor(
    private readonly dim: number,
    private readonly codec: PostingEncoder,
  ) {}

  read(bytes: Uint8Array, key: number): PostingView {
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
    const bpv = this.codec.bytesPerVector;
    if (head[1] !== this.dim) throw corrupt(key, `dimension ${head[1]} differs from the index dimension ${this.dim}`);
    if (head[2] !== CODEC_IDS[this.codec.name]) throw corrupt(key, `codec ${head[2]} differs from the index codec ${this.codec.name}`);
    if (head[3] !== bpv) throw corrupt(key, `${head[3]} bytes per vector, the codec writes ${bpv}`);
    if (bytes.length < postingBytes(count, bpv)) throw corrupt(key, `value of ${bytes.length} bytes is too short for ${count} vectors`);
    const codesOff = base + POSTING_HEADER_BYTES + 4 * count;
    return {
      count,
      ids: new Uint32Array(buf, base + POSTING_HEADER_BYTES, count),
      codes: new Uint8Array(buf, codesOff, count * bpv),
      vectors: this.codec.name === 'F32' ? new Float32Array(buf, codesOff, count * this.dim) : null,
    };
  }
}

function corrupt(key: number, what: string) {
  return createError('STRATA_INDEX_CORRUPT', `posting list ${key}: ${what}`, 'postings');
}
