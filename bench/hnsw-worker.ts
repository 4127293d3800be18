/** piscina worker: hnswlib-node search for the all-cores QPS of the hnswlib peer. */
import hnswlib from 'hnswlib-node';

interface Task {
  file: string;
  space: 'l2' | 'ip' | 'cosine';
  dim: number;
  queries: Float32Array;
  start: number;
  end: number;
  k: number;
  ef: number;
  ids: Uint32Array;
}

let cached: { file: string; index: hnswlib.HierarchicalNSW } | undefined;

export default function run(t: Task): number {
  if (!cached || cached.file !== t.file) {
    const index = new hnswlib.HierarchicalNSW(t.space, t.dim);
    index.readIndexSync(t.file);
    cached = { file: t.file, index };
  }
  const index = cached.index;
  index.setEf(Math.max(t.ef, t.k));
  const row = new Array<number>(t.dim);
  for (let q = t.start; q < t.end; q++) {
    for (let j = 0; j < t.dim; j++) row[j] = t.queries[q * t.dim + j];
    const r = index.searchKnn(row, t.k);
    for (let j = 0; j < r.neighbors.length; j++) t.ids[q * t.k + j] = r.neighbors[j];
  }
  return t.end - t.start;
}
