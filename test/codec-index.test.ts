import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndex, openIndex } from '../src/index/spann.js';
import { exactSearch, type KnnResult } from '../src/index/exact.js';
import { parseSpec, formatSpec } from '../src/index/spec.js';
import { mixture, recall, tempDir } from './helpers.js';

const N = 8000, DIM = 32, NQ = 100, K = 10;
const data = mixture(N, DIM, 61);
const queries = mixture(NQ, DIM, 62);
const tmp = tempDir('codec-index');
let truth: KnnResult;

beforeAll(async () => {
  truth = await exactSearch(data, queries, DIM, K, { threads: 1 });
});
afterAll(() => tmp.cleanup());

let built = 0;
async function recallOf(spec: string, maxLists = 64) {
  const dir = `${tmp.dir}/${spec.replace(/,/g, '_')}-${built++}`;
  const index = await createIndex(dir, { dimension: DIM, spec });
  await index.build(data);
  const got = new Uint32Array(NQ * K).fill(0xffffffff);
  for (let q = 0; q < NQ; q++) got.set(index.search(queries.subarray(q * DIM, (q + 1) * DIM), K, { maxLists, eps2: 1000 }).ids, q * K);
  const stats = index.stats();
  await index.close();
  return { r: recall(got, truth.ids, K, NQ), dir, stats };
}

describe('codecs inside the index', () => {
  const results: Record<string, number> = {};

  // Floors: every list within reach is probed, so what is left is the codec's own loss (see
  // test/codecs.test.ts for the exact-scan figures on this kind of data).
  it.each([
    ['SPANN', 0.99],
    ['SPANN,F8E4M3', 0.88],
    ['SPANN,F8E5M2', 0.8],
    ['SPANN,INT8', 0.95],
    ['SPANN,F8E4M3,Refine', 0.99],
    ['SPANN,F8E5M2,Refine', 0.99],
    ['SPANN,INT8,Refine', 0.99],
  ])('%s reaches recall@10 >= %s', async (spec, floor) => {
    const { r, stats } = await recallOf(spec);
    results[spec] = r;
    expect(r).toBeGreaterThanOrEqual(floor);
    expect(stats.spec).toBe(spec);
  });

  it('Refine never lowers recall', () => {
    for (const c of ['F8E4M3', 'F8E5M2', 'INT8']) expect(results[`SPANN,${c},Refine`]).toBeGreaterThanOrEqual(results[`SPANN,${c}`]);
  });

  it('a compressed index reopens with its trained codec and gives identical results', async () => {
    const { dir } = await recallOf('SPANN,INT8,Refine', 8);
    const a = await openIndex(dir);
    const before = Array.from({ length: 20 }, (_, q) => Array.from(a.search(queries.subarray(q * DIM, (q + 1) * DIM), K, { maxLists: 8 }).ids));
    const batch = await a.searchBatch(queries.subarray(0, 20 * DIM), K, { maxLists: 8 });
    await a.close();
    const b = await openIndex(dir);
    const after = Array.from({ length: 20 }, (_, q) => Array.from(b.search(queries.subarray(q * DIM, (q + 1) * DIM), K, { maxLists: 8 }).ids));
    await b.close();
    expect(after).toEqual(before);
    expect(Array.from(batch.ids)).toEqual(before.flat());
  });

  it('compressed posting lists are smaller on disk', async () => {
    const f32 = await recallOf('SPANN', 1);
    const f8 = await recallOf('SPANN,F8E4M3', 1);
    expect(f8.stats.diskBytes).toBeLessThan(f32.stats.diskBytes * 0.6);
  });
});

describe('spec strings', () => {
  it('parse to a canonical form', () => {
    expect(formatSpec(parseSpec(' SPANN , F8E4M3 ,Refine'))).toBe('SPANN,F8E4M3,Refine');
    expect(parseSpec('SPANN')).toEqual({ codec: 'F32', refine: false });
    expect(formatSpec(parseSpec('SPANN,F32'))).toBe('SPANN');
  });

  it.each([
    ['F8E4M3', /must follow SPANN/],
    ['SPANN,F8E4M3,INT8', /more than one codec/],
    ['SPANN,PQ8', /unknown stage "PQ8"/],
    ['', /non-empty/],
    ['PCA48,SPANN', /PCA is not supported by this build yet/],
  ])('%j is refused with a coded error naming options.spec', async (spec, msg) => {
    await expect(createIndex(`${tmp.dir}/bad`, { dimension: 4, spec })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'spec', message: expect.stringMatching(msg) });
  });
});
