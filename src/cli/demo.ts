/**
 * `npm start` until the HTTP service lands: build a small index on the embedded default (LMDB in a
 * local folder), search it, compare with exact search, reopen it and search again.
 */
import { rmSync } from 'node:fs';
import { createIndex, openIndex } from '../index/spann.js';
import { exactSearch } from '../index/exact.js';
import { mixtureCenters } from '../datasets/synthetic.js';
import { createRng } from '../util/random.js';
import { createProgress } from '../util/progress.js';

export async function runDemo(dir: string, n = 20_000, dim = 64): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  const rng = createRng(1);
  const centers = mixtureCenters(dim, 100, 3);
  const make = (count: number) => {
    const out = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const c = rng.int(100) * dim;
      for (let j = 0; j < dim; j++) out[i * dim + j] = centers[c + j] + 0.15 * rng.gaussian();
    }
    return out;
  };
  const vectors = make(n);
  const queries = make(100);
  console.log(`building a SPANN index of ${n} × ${dim} vectors in ${dir}/`);
  const ui = createProgress();
  const index = await createIndex(dir, { dimension: dim });
  const stats = await index.build(vectors, undefined, { onProgress: (p) => ui.update(p.stage, p.done, p.total) });
  ui.stop();
  console.log(`built in ${stats.seconds.toFixed(1)} s: ${stats.heads} heads, ${stats.replicasPerVector.toFixed(2)} replicas per vector, longest list ${stats.longestList}`);
  const truth = await exactSearch(vectors, queries, dim, 10);
  let hits = 0;
  const t0 = performance.now();
  for (let q = 0; q < 100; q++) {
    const r = index.search(queries.subarray(q * dim, (q + 1) * dim), 10);
    const want = new Set(truth.ids.subarray(q * 10, q * 10 + 10));
    for (const id of r.ids) if (want.has(id)) hits++;
  }
  const ms = (performance.now() - t0) / 100;
  console.log(`100 queries: recall@10 ${(hits / 1000).toFixed(3)} against exact search, ${ms.toFixed(2)} ms per query`);
  const first = index.search(queries.subarray(0, dim), 3);
  await index.close();
  const reopened = await openIndex(dir);
  const again = reopened.search(queries.subarray(0, dim), 3);
  console.log(`reopened: first query -> ids ${Array.from(again.ids).join(', ')} (before close: ${Array.from(first.ids).join(', ')})`);
  console.log(reopened.stats());
  await reopened.close();
}
