/**
 * Vector data files used by ANN benchmarks:
 *   .fvecs / .ivecs / .bvecs  per vector: int32 dim, then dim float32 / int32 / uint8 (TEXMEX format)
 *   .fbin / .ibin             uint32 n, uint32 dim, then n×dim float32 / int32 (big-ann-benchmarks)
 * Float data is read into shared memory so an index build or exact search uses it without a copy.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { extname } from 'node:path';
import { createError } from '../errors.js';

export interface VectorSet<T extends Float32Array | Int32Array = Float32Array> {
  data: T;
  count: number;
  dim: number;
}

function bad(path: string, what: string): never {
  throw createError('STRATA_FILE_FORMAT', `${path}: ${what}`, 'path');
}

/** Most bytes one read or write call moves (fs calls take int32 lengths; files may exceed 2 GiB). */
const IO_CHUNK = 1 << 30;

function readExactly(fd: number, target: Uint8Array, position: number, path: string): void {
  let got = 0;
  while (got < target.length) {
    const r = readSync(fd, target, got, Math.min(target.length - got, IO_CHUNK), position + got);
    if (r === 0) bad(path, `file ends at byte ${position + got}, expected ${target.length - got} more bytes`);
    got += r;
  }
}

type Kind = 'f' | 'i' | 'b';

/** Read a TEXMEX *vecs file. `limit` reads only the first vectors. */
function readVecs(path: string, kind: Kind, limit = Infinity): { bytes: Uint8Array; count: number; dim: number } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 4) bad(path, 'file is shorter than one dimension header');
    const hdr = new Uint8Array(4);
    readExactly(fd, hdr, 0, path);
    const dim = new DataView(hdr.buffer).getInt32(0, true);
    if (dim <= 0 || dim > 1 << 20) bad(path, `dimension header ${dim} is not plausible`);
    const elem = kind === 'b' ? 1 : 4;
    const rec = 4 + dim * elem;
    if (size % rec !== 0) bad(path, `size ${size} is not a multiple of the ${rec}-byte record for dimension ${dim}`);
    const count = Math.min(size / rec, limit);
    const outElem = kind === 'b' ? 4 : elem; // bvecs widen to float32
    const bytes = new Uint8Array(new SharedArrayBuffer(count * dim * outElem));
    const chunkRecs = Math.max(1, Math.floor((8 << 20) / rec));
    const buf = new Uint8Array(chunkRecs * rec);
    const view = new DataView(buf.buffer);
    const out32 = kind === 'b' ? new Float32Array(bytes.buffer) : null;
    for (let start = 0; start < count; start += chunkRecs) {
      const nrec = Math.min(chunkRecs, count - start);
      readExactly(fd, buf.subarray(0, nrec * rec), start * rec, path);
      for (let r = 0; r < nrec; r++) {
        const d = view.getInt32(r * rec, true);
        if (d !== dim) bad(path, `vector ${start + r} has dimension ${d}, the first has ${dim}`);
        const src = r * rec + 4;
        const dst = (start + r) * dim;
        if (out32) for (let j = 0; j < dim; j++) out32[dst + j] = buf[src + j];
        else bytes.set(buf.subarray(src, src + dim * 4), dst * 4);
      }
    }
    return { bytes, count, dim };
  } finally {
    closeSync(fd);
  }
}

/** Read a big-ann-benchmarks .fbin/.ibin file. */
function readBin(path: string, limit = Infinity): { bytes: Uint8Array; count: number; dim: number } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) bad(path, 'file is shorter than its 8-byte header');
    const hdr = new Uint8Array(8);
    readExactly(fd, hdr, 0, path);
    const dv = new DataView(hdr.buffer);
    const n = dv.getUint32(0, true);
    const dim = dv.getUint32(4, true);
    if (dim === 0) bad(path, 'dimension header is 0');
    if (size !== 8 + n * dim * 4) bad(path, `size ${size} does not match header n=${n}, dim=${dim} (expected ${8 + n * dim * 4})`);
    const count = Math.min(n, limit);
    const bytes = new Uint8Array(new SharedArrayBuffer(count * dim * 4));
    readExactly(fd, bytes, 8, path);
    return { bytes, count, dim };
  } finally {
    closeSync(fd);
  }
}

/** Vector count and dimension of a float vector file, from its header only. */
export function vectorFileShape(path: string): { count: number; dim: number } {
  const ext = extname(path).toLowerCase();
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const hdr = new Uint8Array(8);
    readExactly(fd, hdr, 0, path);
    const dv = new DataView(hdr.buffer);
    if (ext === '.fbin' || ext === '.ibin') return { count: dv.getUint32(0, true), dim: dv.getUint32(4, true) };
    const dim = dv.getInt32(0, true);
    if (dim <= 0) bad(path, `dimension header ${dim} is not plausible`);
    return { count: size / (4 + dim * (ext === '.bvecs' ? 1 : 4)), dim };
  } finally {
    closeSync(fd);
  }
}

/** Read float vectors from .fvecs, .bvecs (widened) or .fbin, into shared memory. */
export function readFloatVectors(path: string, limit?: number): VectorSet {
  const ext = extname(path).toLowerCase();
  const r = ext === '.fvecs' ? readVecs(path, 'f', limit) : ext === '.bvecs' ? readVecs(path, 'b', limit) : ext === '.fbin' ? readBin(path, limit) : bad(path, `unknown float vector extension ${JSON.stringify(ext)} (expected .fvecs, .bvecs, .fbin)`);
  return { data: new Float32Array(r.bytes.buffer, r.bytes.byteOffset, r.count * r.dim), count: r.count, dim: r.dim };
}

/** Read integer vectors (ground-truth neighbour ids) from .ivecs or .ibin. */
export function readIntVectors(path: string, limit?: number): VectorSet<Int32Array> {
  const ext = extname(path).toLowerCase();
  const r = ext === '.ivecs' ? readVecs(path, 'i', limit) : ext === '.ibin' ? readBin(path, limit) : bad(path, `unknown integer vector extension ${JSON.stringify(ext)} (expected .ivecs, .ibin)`);
  return { data: new Int32Array(r.bytes.buffer, r.bytes.byteOffset, r.count * r.dim), count: r.count, dim: r.dim };
}

/** Write n×dim values to .fvecs/.ivecs/.bvecs/.fbin/.ibin according to the extension. */
export function writeVectors(path: string, data: Float32Array | Int32Array | Uint32Array | Uint8Array, dim: number): void {
  const ext = extname(path).toLowerCase();
  if (data.length % dim !== 0) throw createError('STRATA_DIMENSION_MISMATCH', `data length ${data.length} is not a multiple of dim ${dim}`, 'data');
  const n = data.length / dim;
  const fd = openSync(path, 'w');
  try {
    if (ext === '.fbin' || ext === '.ibin') {
      const hdr = new Uint32Array([n, dim]);
      writeSync(fd, new Uint8Array(hdr.buffer));
      for (let at = 0; at < data.byteLength; at += IO_CHUNK) {
        writeSync(fd, new Uint8Array(data.buffer, data.byteOffset + at, Math.min(IO_CHUNK, data.byteLength - at)));
      }
      return;
    }
    const elem = ext === '.bvecs' ? 1 : 4;
    if (ext !== '.fvecs' && ext !== '.ivecs' && ext !== '.bvecs') bad(path, `unknown vector extension ${JSON.stringify(ext)}`);
    const rec = 4 + dim * elem;
    const chunk = Math.max(1, Math.floor((8 << 20) / rec));
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      const buf = new Uint8Array(m * rec);
      const dv = new DataView(buf.buffer);
      for (let r = 0; r < m; r++) {
        dv.setInt32(r * rec, dim, true);
        const src = (s + r) * dim;
        if (elem === 1) for (let j = 0; j < dim; j++) buf[r * rec + 4 + j] = data[src + j];
        else buf.set(new Uint8Array(data.buffer, data.byteOffset + src * 4, dim * 4), r * rec + 4);
      }
      writeSync(fd, buf);
    }
  } finally {
    closeSync(fd);
  }
}

