/**
 * piscina worker for batch search. Each worker thread opens the index once, read-only: its own LMDB
 * read view and its own copy of the head graph, then serves ranges of a shared query buffer.
 */
import { SpannSearcher } from './searcher.js';
import type { Scope } from './scope.js';
import type { SearchParams } from './options.js';
import { IndexStore } from '../storage/index-store.js';
import { loadGraph, readMeta, searcherConfig } from './spann.js';

export interface SearchTask {
  dir: string;
  queries: Float32Array;
  start: number;
  end: number;
  k: number;
  params: SearchParams;
  ids: Uint32Array;
  distances: Float32Array;
  /** 4 slots per query: lists probed, vectors scanned, bytes read, 1 if a probe fell back to exact. */
  stats: Float64Array;
  scope: Scope | null;
  plan: 'probe' | 'exact' | 'cells';
}

const open = new Map<string, { searcher: SpannSearcher; dim: number }>();

function searcherFor(dir: string) {
  let entry = open.get(dir);
  if (!entry) {
    const store = IndexStore.open(dir, { readOnly: true });
    const meta = readMeta(store, dir);
    const graph = loadGraph(store, dir, meta, false);
    entry = { searcher: new SpannSearcher(store, graph, searcherConfig(meta, store)), dim: meta.options.dimension };
    open.set(dir, entry);
  }
  return entry;
}

export default function run(task: SearchTask): number {
  const { searcher, dim } = searcherFor(task.dir);
  const s = { listsProbed: 0, vectorsScanned: 0, bytesRead: 0 };
  for (let q = task.start; q < task.end; q++) {
    s.listsProbed = 0;
    s.vectorsScanned = 0;
    s.bytesRead = 0;
    searcher.search(task.queries, q * dim, task.k, task.params, task.ids, task.distances, q * task.k, s, task.scope, task.plan);
    task.stats[q * 4] = s.listsProbed;
    task.stats[q * 4 + 1] = s.vectorsScanned;
    task.stats[q * 4 + 2] = s.bytesRead;
    task.stats[q * 4 + 3] = searcher.lastPlan === 'probe+exact' ? 1 : 0;
  }
  return task.end - task.start;
}
