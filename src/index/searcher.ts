/**
 * Stage 4: SPANN search over one open index — nearest heads from the in-memory graph, query-aware
 * pruning, posting reads from LMDB, replica de-duplication, top-k. Used by the index in the calling
 * thread and by every batch-search worker (each with its own graph copy and LMDB read view).
 */
import { type Metric, normalizeRows, withinBound } from './distance.js';
import { batchKernel } from './kernels.js';
import type { HeadGraph } from './head-graph.js';
import type { SearchParams } from './options.js';
import { TopK } from './topk.js';
import type { IndexStore } from '../storage/index-store.js';
import { PostingReader } from '../storage/posting-format.js';

export interface SearchStats {
  /** Posting lists read. */
  listsProbed: number;
  /** Posting entries whose distance was computed (replicas included). */
  vectorsScanned: number;
  /** Bytes of posting values read from LMDB. */
  bytesRead: number;
}

export function emptyStats(): SearchStats {
  return { listsProbed: 0, vectorsScanned: 0, bytesRead: 0 };
}

export class SpannSearcher {
  private readonly store: IndexStore;
  private readonly graph: HeadGraph;
  private readonly dim: number;
  private readonly metric: Metric;
  private readonly headCount: number;
  private readonly reader = new PostingReader();
  private readonly query: Float32Array;
  private heads = new Uint32Array(64);
  private headDist = new Float32Array(64);
  private heap = new TopK(10);
  private dists = new Float32Array(256);

  constructor(store: IndexStore, graph: HeadGraph, dim: number, metric: Metric, headCount: number) {
    this.store = store;
    this.graph = graph;
    this.dim = dim;
    this.metric = metric;
    this.headCount = headCount;
    this.query = new Float32Array(dim);
  }

  /**
   * Search the query at `queries[qOff..qOff+dim)`; writes k results (padded) into outIds/outDist at
   * outOff, adds to `stats`, returns the number of results found.
   */
  search(
    queries: Float32Array,
    qOff: number,
    k: number,
    params: SearchParams,
    outIds: Uint32Array,
    outDist: Float32Array,
    outOff: number,
    stats: SearchStats,
  ): number {
    const q = this.query;
    q.set(queries.subarray(qOff, qOff + this.dim));
    if (this.metric === 'cosine') normalizeRows(q, this.dim);
    if (this.heap.capacity !== k) this.heap = new TopK(k);
    const heap = this.heap;
    heap.reset();

    if (params.bypassIndex) {
      for (let h = 0; h < this.headCount; h++) this.scanList(h, heap, stats);
      return heap.drainSorted(outIds, outDist, outOff);
    }
    const want = Math.min(params.maxLists, this.headCount);
    if (this.heads.length < want) {
      this.heads = new Uint32Array(want);
      this.headDist = new Float32Array(want);
    }
    const found = this.graph.search(q, 0, want, params.efSearch, this.heads, this.headDist);
    const nearest = this.headDist[0];
    for (let i = 0; i < found; i++) {
      if (i > 0 && !withinBound(this.metric, this.headDist[i], nearest, params.eps2)) break;
      this.scanList(this.heads[i], heap, stats);
    }
    return heap.drainSorted(outIds, outDist, outOff);
  }

  private scanList(head: number, heap: TopK, stats: SearchStats): void {
    const bytes = this.store.getPostingFast(head);
    if (!bytes) return;
    const { count, ids, vectors } = this.reader.read(bytes, this.dim, head);
    if (this.dists.length < count) this.dists = new Float32Array(Math.max(count, this.dists.length * 2));
    const dists = this.dists;
    batchKernel(this.metric)(this.query, 0, vectors, 0, count, this.dim, dists, 0);
    let worst = heap.worst();
    for (let i = 0; i < count; i++) {
      const d = dists[i];
      if (d < worst && heap.pushUnique(d, ids[i])) worst = heap.worst();
    }
    stats.listsProbed++;
    stats.vectorsScanned += count;
    stats.bytesRead += bytes.length;
  }
}
