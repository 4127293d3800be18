import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createIndex } from '../src/index/spann.js';
import { mixture, tempDir } from './helpers.js';

const DIM = 32;

describe('persistence', () => {
  const tmp = tempDir('persist');
  afterAll(() => tmp.cleanup());

  it('save -> reopen in a fresh process gives identical results (ids and distances)', async () => {
    const data = mixture(8000, DIM, 31);
    const queries = mixture(50, DIM, 32);
    const index = await createIndex(tmp.dir, { dimension: DIM });
    await index.build(data);
    const before = [];
    for (let q = 0; q < 50; q++) {
      const r = index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { maxLists: 8 });
      before.push({ ids: Array.from(r.ids), distances: Array.from(r.distances) });
    }
    await index.close();

    const script = `
      import { openIndex } from ${JSON.stringify(new URL('../dist/src/strata.js', import.meta.url).href)};
      const q = new Float32Array(${JSON.stringify(Array.from(queries))});
      const index = await openIndex(${JSON.stringify(tmp.dir)});
      const out = [];
      for (let i = 0; i < 50; i++) {
        const r = index.search(q.subarray(i * ${DIM}, (i + 1) * ${DIM}), 10, { maxLists: 8 });
        out.push({ ids: Array.from(r.ids), distances: Array.from(r.distances) });
      }
      await index.close();
      process.stdout.write(JSON.stringify(out));`;
    const after = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
    expect(after).toEqual(before);
  });

  it('a missing head-graph file is rebuilt from the heads in LMDB, with the same results', async () => {
    const { rmSync } = await import('node:fs');
    const { openIndex } = await import('../src/index/spann.js');
    const queries = mixture(20, DIM, 33);
    const a = await openIndex(tmp.dir);
    const before = Array.from({ length: 20 }, (_, q) => Array.from(a.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { maxLists: 64, eps2: 1000 }).ids));
    await a.close();
    rmSync(`${tmp.dir}/heads.hnsw`);
    const b = await openIndex(tmp.dir);
    const after = Array.from({ length: 20 }, (_, q) => Array.from(b.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, { maxLists: 64, eps2: 1000 }).ids));
    await b.close();
    // All lists within reach are probed, so the answer does not depend on the rebuilt graph's layout.
    expect(after).toEqual(before);
  });
});
