import { describe, expect, it } from 'vitest';
import { E4M3, E5M2, encodeFloat8, halfUlp } from '../src/index/codecs/float8.js';
import { createRng } from '../src/util/random.js';

/** The OCP FP8 value of a code, written out independently from the spec's field definitions. */
function specValue(code: number, fmt: 'E4M3' | 'E5M2'): number {
  const [eb, mb, bias] = fmt === 'E4M3' ? [4, 3, 7] : [5, 2, 15];
  const s = code >> 7;
  const e = (code >> mb) & ((1 << eb) - 1);
  const m = code & ((1 << mb) - 1);
  if (fmt === 'E4M3' && e === 15 && m === 7) return NaN;
  if (fmt === 'E5M2' && e === 31) return m === 0 ? (s ? -Infinity : Infinity) : NaN;
  const mag = e === 0 ? (m / 2 ** mb) * 2 ** (1 - bias) : (1 + m / 2 ** mb) * 2 ** (e - bias);
  return s ? -mag : mag;
}

describe.each([
  ['E4M3', E4M3],
  ['E5M2', E5M2],
] as const)('float8 %s', (name, fmt) => {
  it('every one of the 256 codes decodes to the value the spec gives', () => {
    for (let c = 0; c < 256; c++) {
      const want = specValue(c, name);
      if (Number.isNaN(want)) expect(Number.isNaN(fmt.table[c])).toBe(true);
      else expect(Object.is(fmt.table[c], want) || fmt.table[c] === want).toBe(true);
    }
  });

  it('encode(decode(c)) == c for every non-NaN, finite code (including -0)', () => {
    for (let c = 0; c < 256; c++) {
      const v = fmt.table[c];
      if (!Number.isFinite(v)) continue;
      expect(encodeFloat8(fmt, v)).toBe(c);
    }
  });

  it('random round-trips stay within half an ULP (seeded)', () => {
    const rng = createRng(name === 'E4M3' ? 1 : 2);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rng.next() * 2 - 1) * fmt.max * 2 ** -rng.int(20));
      const y = fmt.table[encodeFloat8(fmt, x)];
      expect(Math.abs(y - x)).toBeLessThanOrEqual(halfUlp(fmt, Math.abs(x)));
    }
  });

  it('ties go to the even code', () => {
    // between 1 (mantissa 0) and the next value up, the midpoint rounds down to the even mantissa
    const one = encodeFloat8(fmt, 1);
    const next = fmt.table[one + 1];
    expect(encodeFloat8(fmt, (1 + next) / 2)).toBe(one);
    // between the odd code one+1 and even one+2, the midpoint rounds up to one+2
    expect(encodeFloat8(fmt, (fmt.table[one + 1] + fmt.table[one + 2]) / 2)).toBe(one + 2);
  });

  it('saturates instead of overflowing, for both signs', () => {
    expect(fmt.table[encodeFloat8(fmt, fmt.max * 1.01)]).toBe(fmt.max);
    expect(fmt.table[encodeFloat8(fmt, 1e30)]).toBe(fmt.max);
    expect(fmt.table[encodeFloat8(fmt, -1e30)]).toBe(-fmt.max);
  });

  it('represents subnormals and flushes below half the smallest one to zero', () => {
    const tiny = fmt.table[1];
    expect(tiny).toBe(2 ** (1 - fmt.bias - fmt.mantissaBits));
    expect(encodeFloat8(fmt, tiny)).toBe(1);
    expect(encodeFloat8(fmt, tiny * 3)).toBe(3);
    expect(encodeFloat8(fmt, tiny * 0.49)).toBe(0);
    expect(encodeFloat8(fmt, tiny * 0.5)).toBe(0); // tie: to even (0)
    expect(encodeFloat8(fmt, -tiny * 0.75)).toBe(0x81);
  });
});

describe('float8 format constants', () => {
  it('match the OCP FP8 table', () => {
    expect([E4M3.max, E4M3.maxCode]).toEqual([448, 0x7e]);
    expect([E5M2.max, E5M2.maxCode]).toEqual([57344, 0x7b]);
    expect(E5M2.table[0x7c]).toBe(Infinity);
    expect(E5M2.table[0xfc]).toBe(-Infinity);
    expect(Number.isNaN(E4M3.table[0x7f])).toBe(true);
    expect(Number.isNaN(E4M3.table[0xff])).toBe(true);
    expect(E4M3.table[0x08]).toBe(2 ** -6); // smallest normal
  });
});
