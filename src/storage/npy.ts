/**
 * NumPy `.npy` files (format versions 1-3): a 2-D (or 1-D) array in C order, little-endian float32,
 * float64, float16, int8/uint8, int32/uint32 or int64/uint64, read into a Float32Array (vectors) or
 * numbers (ids). Hand-written rather than a package: the format is a magic string, a header length
 * and a Python dict literal (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html),
 * and the npm parsers read the whole file into JS first; this converts straight into shared memory.
 */
import { readFileSync } from 'node:fs';
import { createError } from '../errors.js';
import { decodeFloat16 } from '../util/float16.js';
import { sharedFloat32 } from '../util/workers.js';

export interface NpyArray {
  /** Element type as numpy writes it without the byte order: f4, f8, f2, i1, u1, i4, u4, i8, u8. */
  dtype: string;
  shape: number[];
  /** The data bytes (after the header). */
  bytes: Uint8Array;
}

function bad(path: string, what: string): never {
  throw createError('STRATA_FILE_FORMAT', `${path}: ${what}`, 'path');
}

const SIZES: Record<string, number> = { f4: 4, f8: 8, f2: 2, i1: 1, u1: 1, b1: 1, i4: 4, u4: 4, i8: 8, u8: 8 };

export function readNpy(path: string): NpyArray {
  const buf = readFileSync(path);
  if (buf.length < 10 || buf[0] !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') bad(path, 'not a NumPy .npy file (no \\x93NUMPY magic)');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeText) bad(path, `header ${JSON.stringify(header.trim())} lacks descr, fortran_order or shape`);
  if (descr[1] === '>' && SIZES[descr[2]] > 1) bad(path, `big-endian ${descr[2]} arrays are not supported (save with '<' byte order)`);
  if (!(descr[2] in SIZES)) bad(path, `element type ${descr[1]}${descr[2]} is not supported (use float32/float64/float16 or integers)`);
  if (fortran[1] === 'True') bad(path, 'Fortran-order arrays are not supported (save a C-contiguous array: np.ascontiguousarray)');
  const shape = shapeText[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) bad(path, `shape (${shapeText[1]}) is not a tuple of sizes`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const need = count * SIZES[descr[2]];
  if (buf.length - dataStart < need) bad(path, `holds ${buf.length - dataStart} data bytes, its shape needs ${need}`);
  return { dtype: descr[2], shape, bytes: new Uint8Array(buf.buffer, buf.byteOffset + dataStart, need) };
}

/** Element i of the array as a number. */
function reader(a: NpyArray, path: string): (i: number) => number {
  const dv = new DataView(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength);
  switch (a.dtype) {
    case 'f4': return (i) => dv.getFloat32(i * 4, true);
    case 'f8': return (i) => dv.getFloat64(i * 8, true);
    case 'i1': return (i) => dv.getInt8(i);
    case 'u1':
    case 'b1': return (i) => dv.getUint8(i);
    case 'i4': return (i) => dv.getInt32(i * 4, true);
    case 'u4': return (i) => dv.getUint32(i * 4, true);
    case 'i8': return (i) => Number(dv.getBigInt64(i * 8, true));
    case 'u8': return (i) => Number(dv.getBigUint64(i * 8, true));
    default: return bad(path, `element type ${a.dtype} cannot be read as numbers here`);
  }
}

/** A 2-D array of vectors as float32 in shared memory (count × dim). */
export function readNpyVectors(path: string): { data: Float32Array; count: number; dim: number } {
  const a = readNpy(path);
  if (a.shape.length !== 2) bad(path, `shape (${a.shape.join(', ')}) is not 2-D (vectors × dimension)`);
  const [count, dim] = a.shape;
  const n = count * dim;
  const data = sharedFloat32(n);
  if (a.dtype === 'f2') decodeFloat16(new Uint16Array(Uint8Array.prototype.slice.call(a.bytes).buffer), data);
  else if (a.dtype === 'f4') new Uint8Array(data.buffer, data.byteOffset, n * 4).set(a.bytes);
  else {
    const at = reader(a, path);
    for (let i = 0; i < n; i++) data[i] = at(i);
  }
  return { data, count, dim };
}

/** A 1-D array (or n × 1) of numbers, e.g. ids. */
export function readNpyNumbers(path: string): number[] {
  const a = readNpy(path);
  if (!(a.shape.length === 1 || (a.shape.length === 2 && a.shape[1] === 1))) bad(path, `shape (${a.shape.join(', ')}) is not a list of numbers`);
  const at = reader(a, path);
  return Array.from({ length: a.shape[0] }, (_, i) => at(i));
}
