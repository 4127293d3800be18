#!/usr/bin/env node
// Writes small stores of the CURRENT on-disk formats under test/fixtures/formats/<store>-v<format>/
// (run after a format bump: `npm run build && node scripts/make-format-fixtures.mjs`), with the
// answers a test expects from them in expected.json. Fixtures of older formats are kept as they
// were written: test/formats.test.ts opens every one of them.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { createIndex, FORMAT_VERSION } = await import(join(root, 'dist/src/strata.js'));
const out = join(root, 'test/fixtures/formats');

// A small index: 300 vectors of 8 dimensions (seeded), two tenants, a keyword attribute.
const n = 300;
const dim = 8;
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const vectors = Float32Array.from({ length: n * dim }, rand);
const work = mkdtempSync(join(tmpdir(), 'strata-fixture-'));
const dir = join(work, 'index');
const index = await createIndex(dir, { dimension: dim, metric: 'l2', headRatio: 0.1, threads: 1, seed: 7 });
await index.build(vectors, Array.from({ length: n }, (_, i) => 1000 + i), {
  tenants: Array.from({ length: n }, (_, i) => (i % 2 ? 'acme' : 'globex')),
  attributes: Array.from({ length: n }, (_, i) => ({ color: i % 3 ? 'red' : 'blue' })),
});
const queries = [0, 17, 123].map((i) => Array.from(vectors.subarray(i * dim, (i + 1) * dim)));
const expected = {
  queries,
  all: queries.map((q) => Array.from(index.search(q, 5, { maxLists: 64 }).ids)),
  acmeBlue: queries.map((q) => Array.from(index.search(q, 3, { tenant: 'acme', filter: { color: 'blue' }, maxLists: 64 }).ids)),
};
await index.close();
const target = join(out, `index-v${FORMAT_VERSION}`);
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
cpSync(dir, target, { recursive: true });
rmSync(join(target, 'strata.mdb-lock'), { force: true });
writeFileSync(join(target, 'expected.json'), `${JSON.stringify(expected)}\n`);
rmSync(work, { recursive: true, force: true });
console.log(`wrote ${target}`);
