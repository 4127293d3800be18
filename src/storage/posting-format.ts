/**
 * Binary layout of one posting list (one LMDB value), little-endian:
 *
 *   offset 0   u32 count            vectors in the list
 *   offset 4   u32 dim              components per (decoded) vector
 *   offset 8   u32 codec            CODEC_IDS in the low byte: 0 = F32, 1 = F8E4M3, 2 = F8E5M2, 3 = INT8, …;
 *                                   bit 8 (CHECKSUMMED) set when the value ends with its checksum
 *   offset 12  u32 bytesPerVector   encoded size of one vector
 *   offset 16  u32 ids[count]       external ids
 *   then       codes[count * bytesPerVector]   (F32: the float32 vectors themselves)
 *   last       u32 CRC32C           of every byte before it (values written by index format 7 on)
 *
 * The checksum is verified the first time a reader (one per open index handle and search thread)
 * reads a version of a value: it remembers the checksum it verified per key, so a hot list costs one
 * lookup after its first read. A value whose bytes changed on disk is refused with STRATA_CORRUPT
 * naming the store and key, never answered from; bytes that change after a handle verified that
 * version are caught by the next handle.
 * Values of format 6 and before carry no checksum and are read as they are.
 *
 * Every section starts on a 4-byte boundary of the value, so when LMDB hands back a 4-aligned buffer
 * F32 vectors are read in place through a Float32Array view (no copy, no per-vector objects); other
 * codecs are read in place as bytes.
 */
import { crc32c } from '@node-rs/crc32';
import { createError } from '../errors.js';
import { CODEC_IDS, type PostingEncoder } from './records.js';

export const POSTING_HEADER_BYTES = 16;
/** Flag in the codec word: the value ends with a CRC32C of the bytes before it. */
const CHECKSUMMED = 0x100;
const CHECKSUM_BYTES = 4;

/** Bytes of a list of `count` entries as written now (with its checksum). */
export function postingBytes(count: number, bytesPerVector: number): number {
  return unsealedBytes(count, bytesPerVector) + CHECKSUM_BYTES;
}

function unsealedBytes(count: number, bytesPerVector: number): number {
  return POSTING_HEADER_BYTES + 4 * count + count * bytesPerVector;
}

/** Entries of a posting value, read off its header (0 for none). */
export function postingEntryCount(value: Uint8Array | undefined): number {
  return value && value.length >= 4 ? new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true) : 0;
}

/** Set the checksum flag and write the CRC32C of everything before the last 4 bytes into them. */
export function sealPosting(value: Uint8Array): Uint8Array {
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  dv.setUint32(8, dv.getUint32(8, true) | CHECKSUMMED, true);
  const end = value.byteLength - CHECKSUM_BYTES;
  dv.setUint32(end, crc32c(value.subarray(0, end)), true);
  return value;
}

/**
 * One value holding the entries of `a` then those of `b` (same dimension, codec and entry size; b's
 * slots all above a's, as a list's appends are): a list with its appends folded in, sealed anew.
 */
export function concatPostings(a: Uint8Array, b: Uint8Array): Uint8Array {
  const ha = new DataView(a.buffer, a.byteOffset, a.byteLength), hb = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const na = ha.getUint32(0, true), nb = hb.getUint32(0, true), bpv = ha.getUint32(12, true);
  if (hb.getUint32(12, true) !== bpv || hb.getUint32(4, true) !== ha.getUint32(4, true) || (hb.getUint32(8, true) & 0xff) !== (ha.getUint32(8, true) & 0xff)) {
    throw createError('STRATA_INDEX_CORRUPT', 'a list and its appends differ in dimension, codec or entry size', 'postings');
  }
  const out = new Uint8Array(postingBytes(na + nb, bpv));
  out.set(a.subarray(0, POSTING_HEADER_BYTES));
  new DataView(out.buffer).setUint32(0, na + nb, true);
  let o = POSTING_HEADER_BYTES;
  out.set(a.subarray(POSTING_HEADER_BYTES, POSTING_HEADER_BYTES + 4 * na), o);
  out.set(b.subarray(POSTING_HEADER_BYTES, POSTING_HEADER_BYTES + 4 * nb), (o += 4 * na));
  o += 4 * nb;
  out.set(a.subarray(POSTING_HEADER_BYTES + 4 * na, POSTING_HEADER_BYTES + 4 * na + na * bpv), o);
  out.set(b.subarray(POSTING_HEADER_BYTES + 4 * nb, POSTING_HEADER_BYTES + 4 * nb + nb * bpv), o + na * bpv);
  return sealPosting(out);
}

/** What a value is, for the reader's memory of verified checksums (the same key names a list and a block). */
export type PostingSpace = 'list' | 'appends' | 'block';
const SPACE: Record<PostingSpace, number> = { list: 0, appends: 1, block: 2 };

/**
 * Pack `rows` of `data` (row-major n×dim floats) with their external ids, encoded by `codec` — each
 * row minus `relativeTo` (dim floats: a residual list's head) when it is given.
 */
export function encodePosting(rows: ArrayLike<number>, count: number, ids: Uint32Array | null, data: Float32Array, dim: number, codec: PostingEncoder, relativeTo: Float32Array | null = null): Uint8Array {
  const diff = relativeTo ? new Float32Array(dim) : null;
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
    if (diff && relativeTo) {
      for (let j = 0; j < dim; j++) diff[j] = data[r * dim + j] - relativeTo[j];
      codec.encode(diff, 0, codes, i * bpv);
    } else codec.encode(data, r * dim, codes, i * bpv);
  }
  return sealPosting(new Uint8Array(buf));
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
  /**
   * The checksum verified last for each (key, space), at key × 4 + space, with a bit saying it is
   * set: flat arrays grown by doubling (4.1 bytes per possible key slot, whatever is read), where a
   * Map grew by tens of bytes per value read and cost a hash lookup per list.
   */
  private verifiedSum = new Uint32Array(0);
  private verifiedBits = new Uint32Array(0);

  constructor(
    private readonly dim: number,
    private readonly codec: PostingEncoder,
  ) {}

  private growVerified(slot: number): void {
    const n = Math.max(1024, 2 ** Math.ceil(Math.log2(slot + 1)));
    const sums = new Uint32Array(n);
    sums.set(this.verifiedSum);
    const bits = new Uint32Array(n >>> 5);
    bits.set(this.verifiedBits);
    this.verifiedSum = sums;
    this.verifiedBits = bits;
  }

  read(bytes: Uint8Array, key: number, space: PostingSpace = 'list'): PostingView {
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
    const sealed = (head[2] & CHECKSUMMED) !== 0;
    const need = sealed ? postingBytes(count, bpv) : unsealedBytes(count, bpv);
    if (bytes.length < need) throw corrupt(key, `value of ${bytes.length} bytes is too short for ${count} vectors`);
    if (sealed) {
      const e = need - CHECKSUM_BYTES; // read in place: no view allocated on the search path
      const stored = (bytes[e] | (bytes[e + 1] << 8) | (bytes[e + 2] << 16) | (bytes[e + 3] << 24)) >>> 0;
      const slot = key * 4 + SPACE[space];
      if (slot >= this.verifiedSum.length) this.growVerified(slot);
      if (((this.verifiedBits[slot >>> 5] >>> (slot & 31)) & 1) === 0 || this.verifiedSum[slot] !== stored) {
        const actual = crc32c(new Uint8Array(buf, base, need - CHECKSUM_BYTES));
        if (actual !== stored) throw createError('STRATA_CORRUPT', `index: ${space} ${key} fails its checksum (stored ${stored.toString(16)}, computed ${actual.toString(16)}): the file is damaged; rebuild the index from its vectors`, 'postings');
        this.verifiedSum[slot] = stored;
        this.verifiedBits[slot >>> 5] |= 1 << (slot & 31);
      }
    }
    if (head[1] !== this.dim) throw corrupt(key, `dimension ${head[1]} differs from the index dimension ${this.dim}`);
    if ((head[2] & 0xff) !== CODEC_IDS[this.codec.name]) throw corrupt(key, `codec ${head[2] & 0xff} differs from the index codec ${this.codec.name}`);
    if (head[3] !== bpv) throw corrupt(key, `${head[3]} bytes per vector, the codec writes ${bpv}`);
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
