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

// A small corpus (passages format) with two tenants, and what retrieval answers.
{
  const { Corpus, DEFAULT_MODEL_DIR } = await import(join(root, 'dist/src/strata.js'));
  const { PASSAGES_FORMAT } = await import(join(root, 'dist/src/rag/passage-store.js'));
  const work = mkdtempSync(join(tmpdir(), 'strata-fixture-'));
  const dir = join(work, 'corpus');
  const corpus = await Corpus.open(dir, { model: DEFAULT_MODEL_DIR, embedder: { threads: 1 } });
  await corpus.ingest([
    { id: 'zebrafish', title: 'Zebrafish', text: 'The zebrafish heart regenerates after injury.' },
    { id: 'vaccine', text: 'Vaccines train the immune system to recognise a virus.' },
  ], { tenant: 'acme' });
  await corpus.ingest([{ id: 'river', text: 'Rainfall and drought shape the river.' }], { tenant: 'globex' });
  const expected = {
    acme: (await corpus.retrieve('heart injury', { tenant: 'acme', k: 2 })).map((p) => p.document.id),
    globex: (await corpus.retrieve('river drought', { tenant: 'globex', k: 1 })).map((p) => p.document.id),
  };
  await corpus.close();
  const target = join(out, `corpus-v${PASSAGES_FORMAT}`);
  rmSync(target, { recursive: true, force: true });
  cpSync(dir, target, { recursive: true });
  for (const lock of ['passages.mdb-lock', 'index-0/strata.mdb-lock']) rmSync(join(target, lock), { force: true });
  writeFileSync(join(target, 'expected.json'), `${JSON.stringify(expected)}\n`);
  rmSync(work, { recursive: true, force: true });
  console.log(`wrote ${target}`);
}

// A chunk KV store with one stories260K entry in a tenant's namespace.
{
  const { KV_STORE_FORMAT, chunkKey } = await import(join(root, 'dist/src/kv/chunk-store.js'));
  const { KvEngine, builtinProfiles } = await import(join(root, 'dist/src/strata.js'));
  const work = mkdtempSync(join(tmpdir(), 'strata-fixture-'));
  const engine = await KvEngine.open(builtinProfiles().stories260K, join(work, 'engine'));
  const parts = engine.encodePrompt({ passages: ['Once upon a time there was a little dog.'], question: 'The dog' });
  await engine.assemble(parts, { namespace: 'tenant-a' });
  const key = engine.chunkKey(parts.chunks[0], 'tenant-a');
  await engine.close();
  const target = join(out, `kv-v${KV_STORE_FORMAT}`);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  cpSync(join(work, 'engine', 'chunks', 'kv.mdb'), join(target, 'kv.mdb'));
  writeFileSync(join(target, 'expected.json'), `${JSON.stringify({ key, tokens: parts.chunks[0], otherNamespace: chunkKey(key.split(':')[0], parts.chunks[0], 'tenant-b') })}\n`);
  rmSync(work, { recursive: true, force: true });
  console.log(`wrote ${target}`);
}
