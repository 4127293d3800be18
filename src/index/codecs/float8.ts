/**
 * 8-bit floating point formats of the OCP FP8 specification, as plain casts from float32:
 *
 *   E4M3  sign, 4 exponent bits (bias 7), 3 mantissa bits. No infinities; S.1111.111 is NaN.
 *         Largest finite 448, smallest subnormal 2^-9.
 *   E5M2  sign, 5 exponent bits (bias 15), 2 mantissa bits. IEEE-like: S.11111.00 is ±Inf,
 *         S.11111.xx NaN. Largest finite 57344, smallest subnormal 2^-16.
 *
 * Encoding rounds to nearest, ties to even, and SATURATES: a finite input beyond the largest finite
 * value encodes as ±max (the OCP "saturating" conversion; for E4M3 there is no Inf to overflow to,
 * for E5M2 we choose the same so that a stored vector never holds an infinity). NaN and ±Infinity
 * inputs are rejected by the caller (vectors are validated before they reach a codec).
 */

export interface Float8Format {
  readonly name: 'F8E4M3' | 'F8E5M2';
  readonly exponentBits: number;
  readonly mantissaBits: number;
  readonly bias: number;
  /** Largest finite magnitude. */
  readonly max: number;
  /** Code of +max (the largest finite non-negative code). */
  readonly maxCode: number;
  /** All 256 codes decoded (NaN codes decode to NaN, E5M2's Inf codes to ±Infinity). */
  readonly table: Float32Array;
}

function decodeCode(code: number, eBits: number, mBits: number, bias: number, ieeeSpecials: boolean): number {
  const sign = code & 0x80 ? -1 : 1;
  const e = (code >> mBits) & ((1 << eBits) - 1);
  const m = code & ((1 << mBits) - 1);
  const eMax = (1 << eBits) - 1;
  if (ieeeSpecials && e === eMax) return m === 0 ? sign * Infinity : NaN;
  if (!ieeeSpecials && e === eMax && m === (1 << mBits) - 1) return NaN;
  if (e === 0) return sign * 2 ** (1 - bias) * (m / (1 << mBits));
  return sign * 2 ** (e - bias) * (1 + m / (1 << mBits));
}

function makeFormat(name: Float8Format['name'], eBits: number, mBits: number, bias: number, ieee: boolean): Float8Format {
  const table = new Float32Array(256);
  for (let c = 0; c < 256; c++) table[c] = decodeCode(c, eBits, mBits, bias, ieee);
  let maxCode = 0;
  for (let c = 0; c < 0x80; c++) if (Number.isFinite(table[c]) && table[c] > table[maxCode]) maxCode = c;
  return { name, exponentBits: eBits, mantissaBits: mBits, bias, max: table[maxCode], maxCode, table };
}

export const E4M3: Float8Format = makeFormat('F8E4M3', 4, 3, 7, false);
export const E5M2: Float8Format = makeFormat('F8E5M2', 5, 2, 15, true);

/**
 * Encode one finite number: nearest representable magnitude (codes 0..maxCode increase with value,
 * so a binary search over them finds it), ties to the even code, saturating at ±max.
 */
export function encodeFloat8(fmt: Float8Format, x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  const t = fmt.table;
  if (a >= fmt.max) return sign | fmt.maxCode;
  // largest code lo with t[lo] <= a
  let lo = 0, hi = fmt.maxCode;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[mid] <= a) lo = mid;
    else hi = mid;
  }
  if (t[hi] <= a) lo = hi;
  if (lo === fmt.maxCode || t[lo] === a) return sign | lo;
  const next = lo + 1;
  const half = (t[lo] + t[next]) / 2;
  const code = a < half ? lo : a > half ? next : (lo & 1) === 0 ? lo : next;
  return sign | code;
}

/** Encode `count` floats from src[srcOff..] into dst[dstOff..]. */
export function encodeFloat8Array(fmt: Float8Format, src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number, count: number): void {
  for (let i = 0; i < count; i++) dst[dstOff + i] = encodeFloat8(fmt, src[srcOff + i]);
}

/** Decode `count` codes into floats. */
export function decodeFloat8Array(fmt: Float8Format, src: Uint8Array, srcOff: number, dst: Float32Array, dstOff: number, count: number): void {
  const t = fmt.table;
  for (let i = 0; i < count; i++) dst[dstOff + i] = t[src[srcOff + i]];
}

/**
 * Half a unit in the last place around a magnitude: the largest error round-to-nearest may make for
 * an input of that size (inside the finite range).
 */
export function halfUlp(fmt: Float8Format, a: number): number {
  const minNormalExp = 1 - fmt.bias;
  const e = a > 0 ? Math.max(minNormalExp, Math.floor(Math.log2(a))) : minNormalExp;
  return 2 ** (e - fmt.mantissaBits) / 2;
}
