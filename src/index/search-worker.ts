/**
 * piscina worker for batch search. Each worker thread opens the index once, read-only: its own LMDB
 * read view and its own copy of the head graph, then serves ranges of a shared query buffer.
 *
 * Before each task the worker moves to the newest committed snapshot: when meta.version changed
 * (a write committed since its last task) it reloads the tombstones, replays the head log into its
 * graph (or reloads the graph when the log was trimmed) and takes the new counts. A task runs
 * synchronously on one LMDB read snapshot, so it never sees half of a write.
 */
import { emptyStats, SpannSearcher, STATS_SLOTS } from './searcher.js';
import type { Scope } from './scope.js';
import type { SearchParams } from './options.js';
import { IndexStore } from '../storage/index-store.js';
import type { IndexMeta } from '../storage/records.js';
import { readMeta, searcherConfig } from './spann.js';
import { followHeads, loadGraph } from './graph-sync.js';
import type { HeadGraph } from './head-graph.js';
import { Tombstones } from './tombstones.js';

export interface SearchTask {
  dir: string;
  /** The handle's readahead setting (options.ts RuntimeOptions). */
  readAhead: boolean;
  /**
   * The lists of every query, chosen by the calling thread (`batchGraph: 'shared'`): query q's are
   * lists[q * listStride, + listCounts[q]); this worker then loads no head graph. Null: it searches its own.
   */
  lists: Uint32Array | null;
  listCounts: Uint32Array | null;
  listStride: number;
  queries: Float32Array;
  start: number;
  end: number;
  k: number;
  params: SearchParams;
  ids: Uint32Array;
  distances: Float32Array;
  /** STATS_SLOTS per query: lists probed, vectors scanned, bytes read, 1 if a probe fell back to exact, lists prefetched. */
  stats: Float64Array;
  scope: Scope | null;
  plan: 'probe' | 'exact' | 'cells';
}

interface OpenIndex {
  store: IndexStore;
  meta: IndexMeta;
  /** Null for a worker whose lists are chosen by the caller (it loads no graph). */
  graph: HeadGraph | null;
  searcher: SpannSearcher;
  dim: number;
}

const open = new Map<string, OpenIndex>();

function searcherFor(dir: string, readAhead: boolean, withGraph: boolean): OpenIndex {
  const key = `${withGraph ? 'graph' : 'lists'}\u0000${dir}`;
  let entry = open.get(key);
  if (!entry) {
    const store = IndexStore.open(dir, { readOnly: true, readAhead });
    const meta = readMeta(store, dir);
    const graph = withGraph ? loadGraph(store, dir, meta, false) : null;
    const searcher = new SpannSearcher(store, graph, searcherConfig(meta, store));
    entry = { store, meta, graph, searcher, dim: meta.options.dimension };
    refreshTombstones(entry);
    open.set(key, entry);
    return entry;
  }
  entry.store.refreshSnapshot();
  if (entry.store.meta.version() === entry.meta.version) return entry;
  const meta = readMeta(entry.store, dir);
  if (meta.version !== entry.meta.version) {
    const graph = entry.graph ? followHeads(entry.graph, entry.store, dir, meta) : null;
    if (graph !== entry.graph) {
      entry.graph = graph;
      entry.searcher = new SpannSearcher(entry.store, graph, searcherConfig(meta, entry.store));
    }
    entry.meta = meta;
    entry.searcher.reconfigure(meta);
    refreshTombstones(entry);
  }
  return entry;
}

function refreshTombstones(entry: OpenIndex): void {
  const t = Tombstones.load(entry.store, entry.meta.slotCount);
  entry.searcher.setTombstones(t.count > 0 ? t.bits : null);
}

export default function run(task: SearchTask): number {
  const { lists, listCounts } = task;
  const entry = searcherFor(task.dir, task.readAhead, lists === null);
  // Each query's lists are chosen (or taken from the caller's) and, when prefetching, advised one
  // query ahead, so their reads run while the query before them is scanned (unscoped probes).
  const ahead = (q: number) => {
    if (q >= task.end || task.scope) return;
    if (lists && listCounts) entry.searcher.provideLists(task.queries, q * entry.dim, task.params, lists, q * task.listStride, listCounts[q]);
    else entry.searcher.prefetchAhead(task.queries, q * entry.dim, task.params);
  };
  ahead(task.start);
  for (let q = task.start; q < task.end; q++) {
    ahead(q + 1);
    searchOne(task, entry, q);
  }
  return task.end - task.start;
}

function searchOne(task: SearchTask, { searcher, dim }: OpenIndex, q: number): void {
  const s = emptyStats();
  searcher.search(task.queries, q * dim, task.k, task.params, task.ids, task.distances, q * task.k, s, task.scope, task.plan);
  task.stats[q * STATS_SLOTS] = s.listsProbed;
  task.stats[q * STATS_SLOTS + 1] = s.vectorsScanned;
  task.stats[q * STATS_SLOTS + 2] = s.bytesRead;
  task.stats[q * STATS_SLOTS + 3] = searcher.lastPlan === 'probe+exact' ? 1 : 0;
  task.stats[q * STATS_SLOTS + 4] = s.listsPrefetched;
}
