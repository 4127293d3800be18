import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndex, openIndex, type SpannIndex } from '../src/index/spann.js';
import { POOL_MIN_GROUP, SearchBatcher } from '../src/server/search-batcher.js';
import { mixture, tempDir } from './helpers.js';

// Where the service's searches run: a small group on the event loop, a group of POOL_MIN_GROUP or
// more (or a slow collection's) on the pool — the same answers either way, equal to the index's own
// search.
const DIM = 16;
const tmp = tempDir('batcher');
let index: SpannIndex;
const queries = mixture(40, DIM, 62);
const q = (i: number) => queries.slice(i * DIM, (i + 1) * DIM);

beforeAll(async () => {
  const built = await createIndex(tmp.dir, { dimension: DIM, threads: 2 });
  await built.build(mixture(3000, DIM, 61));
  await built.close();
  index = await openIndex(tmp.dir, { readOnly: true, threads: 2 });
});
afterAll(async () => {
  await index?.close();
  tmp.cleanup();
});

const expected = (i: number) => {
  const r = index.search(q(i), 10);
  return Array.from(r.ids, (id, j) => ({ id, distance: r.distances[j] }));
};

describe('the search batcher', () => {
  it('answers a lone query and a small group on the event loop and a large group on the pool, all equal to the index', async () => {
    const b = new SearchBatcher(1000, Number.POSITIVE_INFINITY); // where a query goes must not depend on this machine's speed
    const [one] = await b.search('c', index, [q(0)], 10, {});
    expect(one).toEqual(expected(0));
    expect([b.queriesInline, b.batchesRun]).toEqual([1, 0]);

    // Requests of one turn meet in one group: below POOL_MIN_GROUP they are searched here.
    const few = await Promise.all(Array.from({ length: 3 }, (_, i) => b.search('c', index, [q(1 + i)], 10, {})));
    few.forEach(([hits], i) => expect(hits).toEqual(expected(1 + i)));
    expect([b.queriesInline, b.batchesRun]).toEqual([4, 0]);

    const many = await Promise.all(Array.from({ length: POOL_MIN_GROUP + 4 }, (_, i) => b.search('c', index, [q(4 + i)], 10, {})));
    many.forEach(([hits], i) => expect(hits).toEqual(expected(4 + i)));
    expect(b.batchesRun).toBe(1);
    expect(b.queriesRun).toBe(POOL_MIN_GROUP + 4);
    expect(b.pending).toBe(0);
  });

  it("a collection whose queries take longer than the limit on the event loop goes to the pool, even alone", async () => {
    const b = new SearchBatcher(1000, 0); // every query counts as slow once measured
    for (let i = 0; i < 5; i++) expect((await b.search('c', index, [q(i)], 10, {}))[0]).toEqual(expected(i)); // warm-up and the first measured one
    expect([b.queriesInline, b.batchesRun]).toEqual([5, 0]);
    expect((await b.search('c', index, [q(5)], 10, {}))[0]).toEqual(expected(5));
    expect([b.queriesInline, b.batchesRun]).toEqual([5, 1]);
  });

  it('a failing query rejects its own request only; admission still counts it out', async () => {
    const b = new SearchBatcher(1000, Number.POSITIVE_INFINITY);
    const bad = b.search('c', index, [q(0)], 10, { tenant: 'nobody' });
    const good = b.search('c', index, [q(1)], 10, {});
    await expect(bad).rejects.toMatchObject({ code: 'STRATA_UNKNOWN_TENANT' });
    expect((await good)[0]).toEqual(expected(1));
    expect(b.pending).toBe(0);
  });
});
