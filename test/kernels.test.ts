import { describe, expect, it } from 'vitest';
import { KERNELS, batchKernel, codeKernels } from '../src/index/kernels.js';
import { E4M3, E5M2 } from '../src/index/codecs/float8.js';
import { ipDistance, l2Squared } from '../src/index/distance.js';
import { createRng } from '../src/util/random.js';

describe('batch distance kernels', () => {
  it('the native addon is built and loaded (npm ci builds it from src/native)', () => {
    expect(KERNELS).toBe('native');
  });

  for (const dim of [1, 5, 16, 96, 784]) {
    it(`agree with the JS reference kernels at dim ${dim}, at offsets`, () => {
      const rng = createRng(dim);
      const count = 37;
      const q = Float32Array.from({ length: dim * 2 }, () => rng.gaussian());
      const base = Float32Array.from({ length: dim * (count + 3) }, () => rng.gaussian());
      const out = new Float32Array(count + 2);
      for (const [metric, ref] of [['l2', l2Squared], ['ip', ipDistance]] as const) {
        batchKernel(metric)(q, dim, base, 3 * dim, count, dim, out, 2);
        for (let i = 0; i < count; i++) {
          const want = ref(q, dim, base, (3 + i) * dim, dim);
          expect(Math.abs(out[2 + i] - want)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
        }
      }
    });
  }

  for (const [fmt, format] of [[0, E4M3], [1, E5M2]] as const) {
    it(`${format.name}: in-register decode gives every finite code's table value, in every lane and the tail`, () => {
      const dim = 35; // two 16-lane blocks and a 3-element tail
      const valid = [...Array(256).keys()].filter((c) => Number.isFinite(format.table[c]));
      const codes = new Uint8Array(valid.length * dim);
      const out = new Float32Array(valid.length);
      const w = new Float32Array(dim).fill(1);
      for (let lane = 0; lane < dim; lane++) {
        codes.fill(0);
        valid.forEach((c, i) => (codes[i * dim + lane] = c));
        const q = new Float32Array(dim);
        q[lane] = 1;
        codeKernels!.lutIpBatch(q, format.table, codes, 0, valid.length, dim, out, fmt);
        valid.forEach((c, i) => expect(out[i]).toBe(Math.fround(1 - format.table[c])));
        q[lane] = 0; // l2 to the zero vector = decoded^2, and the weighted kernel with w = 1 agrees
        codeKernels!.lutL2Batch(q, format.table, codes, 0, valid.length, dim, out, fmt);
        valid.forEach((c, i) => expect(out[i]).toBe(Math.fround(format.table[c] ** 2)));
        codeKernels!.lutL2WBatch(q, format.table, w, codes, 0, valid.length, dim, out, fmt);
        valid.forEach((c, i) => expect(out[i]).toBe(Math.fround(format.table[c] ** 2)));
      }
    });
  }

  for (const dim of [5, 35, 96]) {
    it(`INT8 in registers agrees with the scalar formula at dim ${dim} (every lane and the tail), at offsets`, () => {
      const rng = createRng(dim + 1000);
      const n = 50, off = 3 * dim;
      const codes = Uint8Array.from({ length: off + n * dim }, () => rng.int(256));
      const q = Float32Array.from({ length: dim }, () => rng.next() * 255);
      const step = Float32Array.from({ length: dim }, () => 0.01 + rng.next());
      const bias = 0.37;
      const l2 = new Float32Array(n), ip = new Float32Array(n);
      codeKernels!.u8L2Batch(q, step, codes, off, n, dim, l2);
      codeKernels!.u8IpBatch(q, bias, codes, off, n, dim, ip);
      for (let i = 0; i < n; i++) {
        let a = 0, b = 0;
        for (let j = 0; j < dim; j++) {
          const c = codes[off + i * dim + j];
          a += ((q[j] - c) * step[j]) ** 2;
          b += q[j] * c;
        }
        expect(Math.abs(l2[i] - a) / Math.max(1, a)).toBeLessThan(1e-5);
        expect(Math.abs(ip[i] - (1 - (bias + b))) / Math.max(1, Math.abs(b))).toBeLessThan(1e-5);
      }
    });
  }

  it('refuses ranges outside the arrays instead of reading past them', () => {
    const f = batchKernel('l2');
    expect(() => f(new Float32Array(4), 0, new Float32Array(8), 0, 3, 4, new Float32Array(3), 0)).toThrow(RangeError);
    expect(() => f(new Float32Array(4), 1, new Float32Array(8), 0, 2, 4, new Float32Array(2), 0)).toThrow(RangeError);
  });
});

describe('JS fallback (STRATA_NO_NATIVE=1)', () => {
  it('every byte codec computes on codes what it computes on decoded vectors, for l2 and ip', async () => {
    const { execFileSync } = await import('node:child_process');
    const codecUrl = new URL('../dist/src/index/codecs/codec.js', import.meta.url).href;
    const kernelsUrl = new URL('../dist/src/index/kernels.js', import.meta.url).href;
    const script = `
      const { createCodec } = await import(${JSON.stringify(codecUrl)});
      const { KERNELS } = await import(${JSON.stringify(kernelsUrl)});
      const dim = 12, n = 40;
      let s = 3; const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 * 1200 - 600; };
      const data = Float32Array.from({ length: n * dim }, rnd), q = Float32Array.from({ length: dim }, rnd);
      let worst = 0;
      for (const name of ['F8E4M3', 'F8E5M2', 'F8E4M3S', 'INT8']) {
        const c = createCodec(name, dim); c.train(data);
        const codes = new Uint8Array(n * dim); for (let i = 0; i < n; i++) c.encode(data, i * dim, codes, i * dim);
        for (const metric of ['l2', 'ip']) {
          const out = new Float32Array(n); c.distances(c.prepare(q, metric), codes, 0, n, out);
          const dec = new Float32Array(dim);
          for (let i = 0; i < n; i++) {
            c.decode(codes, i * dim, dec, 0);
            let r = 0; for (let j = 0; j < dim; j++) r += metric === 'l2' ? (q[j] - dec[j]) ** 2 : q[j] * dec[j];
            if (metric === 'ip') r = 1 - r;
            worst = Math.max(worst, Math.abs(out[i] - r) / Math.max(1, Math.abs(r)));
          }
        }
      }
      process.stdout.write(JSON.stringify({ KERNELS, worst }));`;
    const r = JSON.parse(execFileSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, STRATA_NO_NATIVE: '1' } }));
    expect(r.KERNELS).toBe('js');
    expect(r.worst).toBeLessThan(1e-4);
  });
});
