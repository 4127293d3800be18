import { afterAll, describe, expect, it } from 'vitest';
import { createIndex } from '../src/index/spann.js';
import { NO_ID } from '../src/index/topk.js';
import { mixture, tempDir } from './helpers.js';

const DIM = 16;

describe('readers during writes', () => {
  const tmp = tempDir('concurrency');
  afterAll(() => tmp.cleanup());

  it('batch searches on worker threads never throw and never return an id after its delete was acknowledged', async () => {
    const n = 4000;
    const data = mixture(n + 3000, DIM, 51);
    const index = await createIndex(tmp.dir, { dimension: DIM, threads: 2, postingLimit: 40 });
    await index.build(data.subarray(0, n * DIM));
    const queries = mixture(64, DIM, 52);
    const acked = new Set<number>();
    await index.searchBatch(queries, 10, { maxLists: 16 }); // the pool's workers start (and open the index) before the race
    let writing = true;
    let batches = 0;
    const writer = (async () => {
      try {
        for (let b = 0; b < 30; b++) {
          // The reads overlap the writes however slow the machine: the writer waits for the readers'
          // progress (at least 4 batches searched before its last write), never for a clock.
          while (batches < Math.floor(b / 7)) await new Promise((r) => setTimeout(r, 1));
          const first = n + b * 100;
          const ids = Uint32Array.from({ length: 100 }, (_, i) => first + i);
          await index.insert(data.subarray(first * DIM, (first + 100) * DIM), ids);
          // delete some built vectors and some just inserted
          const gone = [...Array.from({ length: 40 }, (_, i) => (b * 131 + i * 97) % n), first + (b % 100)];
          await index.delete(gone);
          for (const id of gone) acked.add(id);
        }
      } finally {
        writing = false;
      }
    })();
    const seen = new Set<number>();
    while (writing) {
      const deletedBefore = new Set(acked);
      const r = await index.searchBatch(queries, 10, { maxLists: 16 });
      batches++;
      for (let i = 0; i < r.ids.length; i++) {
        // k results every time (a tombstone that reached the heap would surface as a hole: the slot
        // map says NO_ID for it)
        expect(r.ids[i]).not.toBe(NO_ID);
        expect(deletedBefore.has(r.ids[i])).toBe(false);
        seen.add(r.ids[i]);
      }
      // one main-thread search in between: it sees every committed write at once
      const single = index.search(queries.subarray(0, DIM), 10);
      for (const id of single.ids) expect(acked.has(id)).toBe(false);
    }
    await writer;
    expect(batches).toBeGreaterThan(3);
    expect([...seen].some((id) => id >= n)).toBe(true); // workers saw inserted vectors
    expect(index.health().problems).toEqual([]);
    await index.close();
  });
});
