/**
 * `strata index build|search|stats|health|compact` as a user runs it (the built CLI in a child
 * process): NumPy .npy (float32, float64, float16 and integer ids), fvecs and JSON inputs; results
 * equal the library's search of the same index; bad inputs exit non-zero with a coded message.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { openIndex } from '../src/index/spann.js';
import { readNpyVectors } from '../src/storage/npy.js';
import { writeVectors } from '../src/storage/vector-files.js';
import { encodeFloat16 } from '../src/util/float16.js';
import { mixture, tempDir } from './helpers.js';

const CLI = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'src', 'cli', 'strata.js');
const run = promisify(execFile);
const strata = async (...args: string[]) => {
  try {
    const r = await run(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

/** A .npy file as numpy.save writes it (format 1.0, C order, little-endian). */
function npy(descr: string, shape: number[], data: ArrayBufferView, fortran = false): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

describe('strata index', () => {
  const tmp = tempDir('index-cli');
  afterAll(() => tmp.cleanup());
  const dim = 16;
  const n = 3000;
  const base = mixture(n, dim, 5);

  it('reads .npy arrays of float32, float64 and float16 as the same vectors (float16 within its precision)', () => {
    const f4 = join(tmp.dir, 'v4.npy');
    const f8 = join(tmp.dir, 'v8.npy');
    const f2 = join(tmp.dir, 'v2.npy');
    writeFileSync(f4, npy('<f4', [n, dim], base));
    writeFileSync(f8, npy('<f8', [n, dim], Float64Array.from(base)));
    const half = new Uint16Array(base.length);
    encodeFloat16(base, half);
    writeFileSync(f2, npy('<f2', [n, dim], half));
    expect(Array.from(readNpyVectors(f4).data)).toEqual(Array.from(base));
    expect(Array.from(readNpyVectors(f8).data)).toEqual(Array.from(base));
    const h = readNpyVectors(f2);
    expect(h).toMatchObject({ count: n, dim });
    expect(h.data.every((x, i) => Math.abs(x - base[i]) <= Math.abs(base[i]) / 1024 + 1e-4)).toBe(true);
    writeFileSync(join(tmp.dir, 'fortran.npy'), npy('<f4', [n, dim], base, true));
  });

  it('builds from .npy with ids and tenants, and searches as the library does', async () => {
    writeFileSync(join(tmp.dir, 'base.npy'), npy('<f4', [n, dim], base));
    writeFileSync(join(tmp.dir, 'ids.npy'), npy('<i8', [n], BigInt64Array.from({ length: n }, (_, i) => BigInt(10_000 + i))));
    writeFileSync(join(tmp.dir, 'tenants.txt'), `${Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'acme' : 'globex')).join('\n')}\n`);
    const out = join(tmp.dir, 'idx');
    const b = await strata('index', 'build', join(tmp.dir, 'base.npy'), '--out', out, '--ids', join(tmp.dir, 'ids.npy'), '--tenants', join(tmp.dir, 'tenants.txt'), '--threads', '1');
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/built .*: 3000 vectors, \d+ heads, 2 tenants/);
    expect(b.stderr).toMatch(/heads|graph|lists/); // progress stages
    const queries = join(tmp.dir, 'q.fvecs');
    writeVectors(queries, mixture(5, dim, 99), dim);
    const s = await strata('index', 'search', out, '--query', queries, '--k', '5', '--json');
    expect(s.code, s.stderr).toBe(0);
    const got = JSON.parse(s.stdout) as Array<{ ids: number[]; distances: number[] }>;
    expect(got).toHaveLength(5);
    const idx = await openIndex(out, { readOnly: true });
    try {
      const q = mixture(5, dim, 99);
      got.forEach((r, i) => {
        const want = idx.search(q.subarray(i * dim, (i + 1) * dim), 5);
        expect(r.ids).toEqual(Array.from(want.ids));
        expect(r.ids.every((id) => id >= 10_000)).toBe(true);
      });
      // A tenant-scoped search from inline JSON, printed as a table.
      const v = Array.from(base.subarray(3 * dim, 4 * dim)); // vector 3: acme
      const t = await strata('index', 'search', out, '--query', JSON.stringify(v), '--k', '3', '--tenant', 'acme');
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toMatch(/ {2}1 {2}id 10003 +distance 0/);
    } finally {
      await idx.close();
    }
    const stats = JSON.parse((await strata('index', 'stats', out)).stdout);
    expect(stats).toMatchObject({ count: n, dimension: dim, metric: 'l2', tenants: 2 });
    const health = await strata('index', 'health', out);
    expect(health.code).toBe(0);
    expect(JSON.parse(health.stdout).problems).toEqual([]);
    const compact = await strata('index', 'compact', out);
    expect(compact.code, compact.stderr).toBe(0);
    expect(JSON.parse(compact.stdout)).toHaveProperty('entriesRemoved');
  });

  it('refuses bad input with a coded error and builds nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['index', 'build', join(tmp.dir, 'fortran.npy'), '--out', join(tmp.dir, 'x1')], /STRATA_FILE_FORMAT.*Fortran-order/],
      [['index', 'build', join(tmp.dir, 'base.npy'), '--out', join(tmp.dir, 'x2'), '--tenants', join(tmp.dir, 'ids.npy')], /STRATA_INVALID_TENANT|lines for 3000 vectors/],
      [['index', 'build', join(tmp.dir, 'nope.txt'), '--out', join(tmp.dir, 'x3')], /STRATA_FILE_FORMAT.*extension/],
      [['index', 'build', join(tmp.dir, 'base.npy'), '--out', join(tmp.dir, 'idx')], /STRATA_INDEX_EXISTS/],
      [['index', 'search', join(tmp.dir, 'idx'), '--query', '[1, 2, 3]'], /STRATA_DIMENSION_MISMATCH/],
      [['index', 'search', join(tmp.dir, 'idx'), '--query', '[1, "a"]'], /STRATA_FILE_FORMAT/],
    ];
    for (const [args, message] of cases) {
      const r = await strata(...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
