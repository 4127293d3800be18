/**
 * Stage 4: SPANN search over one open index — nearest heads from the in-memory graph, query-aware
 * pruning, posting reads from LMDB, replica de-duplication, top-k, and (with Refine) an exact re-rank
 * of refineFactor × k candidates from the full-precision vectors. Used by the index in the calling
 * thread and by every batch-search worker (each with its own graph copy and LMDB read view).
 */
import { type Metric, normalizeRows, withinBound } from './distance.js';
import { batchKernel } from './kernels.js';
import type { HeadGraph } from './head-graph.js';
import type { SearchParams } from './options.js';
import { TopK, NO_ID } from './topk.js';
import type { Codec, PreparedQuery } from './codecs/codec.js';
import type { PcaTransform } from './codecs/pca.js';
import type { IndexStore } from '../storage/index-store.js';
import { PostingReader } from '../storage/posting-format.js';
import { createError } from '../errors.js';

export interface SearchStats {
  /** Posting lists read. */
  listsProbed: number;
  /** Posting entries whose distance was computed (replicas included). */
  vectorsScanned: number;
  /** Bytes of posting values (and, with Refine, full-precision vectors) read from LMDB. */
  bytesRead: number;
}

export function emptyStats(): SearchStats {
  return { listsProbed: 0, vectorsScanned: 0, bytesRead: 0 };
}

export interface SearcherConfig {
  dim: number;
  metric: Metric;
  headCount: number;
  codec: Codec;
  refine: boolean;
  /** PCA of the posting payloads, or null. */
  pca: PcaTransform | null;
}

export class SpannSearcher {
  private readonly reader: PostingReader;
  private readonly query: Float32Array;
  /** The query in the space posting lists are stored in (the query itself without PCA). */
  private readonly codeQuery: Float32Array;
  /** Per-query constant added to code-space distances (PCA with ip/cosine: -<q, mean>). */
  private distBias = 0;
  private readonly codeDim: number;
  private readonly full: Float32Array;
  private heads = new Uint32Array(64);
  private headDist = new Float32Array(64);
  private heap = new TopK(10);
  private final = new TopK(10);
  private dists = new Float32Array(256);
  private candIds = new Uint32Array(40);
  private candDist = new Float32Array(40);
  private prepared: PreparedQuery | null = null;

  constructor(
    private readonly store: IndexStore,
    private readonly graph: HeadGraph,
    private readonly cfg: SearcherConfig,
  ) {
    this.codeDim = cfg.pca ? cfg.pca.outDim : cfg.dim;
    this.reader = new PostingReader(this.codeDim, cfg.codec);
    this.query = new Float32Array(cfg.dim);
    this.codeQuery = cfg.pca ? new Float32Array(this.codeDim) : this.query;
    this.full = new Float32Array(cfg.dim);
  }

  /**
   * Search the query at `queries[qOff..qOff+dim)`; writes k results (padded) into outIds/outDist at
   * outOff, adds to `stats`, returns the number of results found.
   */
  search(queries: Float32Array, qOff: number, k: number, params: SearchParams, outIds: Uint32Array, outDist: Float32Array, outOff: number, stats: SearchStats): number {
    const { dim, metric, headCount, codec, refine } = this.cfg;
    const q = this.query;
    q.set(queries.subarray(qOff, qOff + dim));
    if (metric === 'cosine') normalizeRows(q, dim);
    this.distBias = 0;
    if (this.cfg.pca) {
      // l2: ||P(q - m) - P(x - m)||². ip: <q, x> ≈ <q, m> + <P q, P(x - m)>, so the code-space ip
      // distance 1 - <Pq, y> is shifted by -<q, m> (a per-query constant: ranking is unaffected).
      const l2 = metric === 'l2';
      this.cfg.pca.project(q, 0, this.codeQuery, 0, l2);
      if (!l2) {
        let qm = 0;
        for (let j = 0; j < dim; j++) qm += q[j] * this.cfg.pca.mean[j];
        this.distBias = -qm;
      }
    }
    this.prepared = codec.name === 'F32' ? null : codec.prepare(this.codeQuery, metric);
    const candidates = refine ? k * params.refineFactor : k;
    if (this.heap.capacity !== candidates) this.heap = new TopK(candidates);
    const heap = this.heap;
    heap.reset();

    if (params.bypassIndex) {
      for (let h = 0; h < headCount; h++) this.scanList(h, heap, stats);
    } else {
      const want = Math.min(params.maxLists, headCount);
      if (this.heads.length < want) {
        this.heads = new Uint32Array(want);
        this.headDist = new Float32Array(want);
      }
      const found = this.graph.search(q, 0, want, params.efSearch, this.heads, this.headDist);
      const nearest = this.headDist[0];
      for (let i = 0; i < found; i++) {
        if (i > 0 && !withinBound(metric, this.headDist[i], nearest, params.eps2)) break;
        this.scanList(this.heads[i], heap, stats);
      }
    }
    if (!refine) return heap.drainSorted(outIds, outDist, outOff);
    return this.rerank(k, outIds, outDist, outOff, stats);
  }

  /** Exact distances for the compressed-domain candidates, from the full-precision vectors. */
  private rerank(k: number, outIds: Uint32Array, outDist: Float32Array, outOff: number, stats: SearchStats): number {
    const { dim, metric } = this.cfg;
    const heap = this.heap;
    if (this.candIds.length < heap.capacity) {
      this.candIds = new Uint32Array(heap.capacity);
      this.candDist = new Float32Array(heap.capacity);
    }
    const n = heap.drainSorted(this.candIds, this.candDist, 0);
    if (this.final.capacity !== k) this.final = new TopK(k);
    const final = this.final;
    final.reset();
    const kernel = batchKernel(metric);
    const one = this.dists;
    for (let i = 0; i < n; i++) {
      const id = this.candIds[i];
      if (id === NO_ID) break;
      const bytes = this.store.getVectorFast(id);
      if (!bytes || bytes.length !== dim * 4) throw createError('STRATA_INDEX_CORRUPT', `full-precision vector of id ${id} is missing or has the wrong size`, 'vectors');
      // getBinaryFast's Buffer only overrides .length: view exactly the value's bytes before copying.
      new Uint8Array(this.full.buffer).set(bytes.subarray(0, dim * 4));
      kernel(this.query, 0, this.full, 0, 1, dim, one, 0);
      final.push(one[0], id);
      stats.bytesRead += bytes.length;
    }
    return final.drainSorted(outIds, outDist, outOff);
  }

  private scanList(head: number, heap: TopK, stats: SearchStats): void {
    const bytes = this.store.getPostingFast(head);
    if (!bytes) return;
    const { count, ids, codes, vectors } = this.reader.read(bytes, head);
    if (this.dists.length < count) this.dists = new Float32Array(Math.max(count, this.dists.length * 2));
    const dists = this.dists;
    if (vectors) batchKernel(this.cfg.metric)(this.codeQuery, 0, vectors, 0, count, this.codeDim, dists, 0);
    else this.cfg.codec.distances(this.prepared!, codes, 0, count, dists);
    if (this.distBias !== 0) for (let i = 0; i < count; i++) dists[i] += this.distBias;
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
