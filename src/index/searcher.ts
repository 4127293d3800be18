/**
 * Stage 4: SPANN search over one open index — nearest heads from the in-memory graph, query-aware
 * pruning, posting reads from LMDB, replica de-duplication, top-k, and (with Refine) an exact re-rank
 * of refineFactor × k candidates from the full-precision vectors. Used by the index in the calling
 * thread and by every batch-search worker (each with its own graph copy and LMDB read view).
 *
 * Scoped searches (a tenant and/or a filter, resolved to a Scope by scope.ts) run one of two plans:
 *   probe  the nearest heads that hold in-scope entries; within a list only the tenant's section is
 *          read (lists are sorted by slot and a tenant's slots are runs, so a section is two binary
 *          searches), filter bits are tested before an entry can enter the top-k; the probe widens
 *          until k matches are found, then falls back to `exact` unless a budget was set;
 *   exact  the allowed vectors from the slot blocks, each vector once.
 */
import { majorFaults } from '../util/memory.js';
import { type Metric, normalizeRows, withinBound } from './distance.js';
import { batchKernel } from './kernels.js';
import type { HeadGraph } from './head-graph.js';
import type { SearchParams } from './options.js';
import { TopK, NO_ID } from './topk.js';
import type { Codec, PreparedQuery } from './codecs/codec.js';
import type { PcaTransform } from './codecs/pca.js';
import type { IndexStore } from '../storage/index-store.js';
import { PostingReader, type PostingSpace, type PostingView } from '../storage/posting-format.js';
import { createError } from '../errors.js';
import { lowerBound } from '../util/bounds.js';
import { type Scope, scopedEntryShare } from './scope.js';
import { MAX_CELLS } from './cells.js';

export interface SearchStats {
  /** Posting lists read. */
  listsProbed: number;
  /** Posting entries whose distance was computed (replicas included). */
  vectorsScanned: number;
  /** Bytes of posting values (and, with Refine, full-precision vectors) read from LMDB. */
  bytesRead: number;
  /** Lists whose reads were started ahead of the scan (the `prefetch` param). */
  listsPrefetched: number;
}

/** Numbers a batch search worker reports per query: the SearchStats fields, and 1 if a probe fell back to exact. */
export const STATS_SLOTS = 5;

export function emptyStats(): SearchStats {
  return { listsProbed: 0, vectorsScanned: 0, bytesRead: 0, listsPrefetched: 0 };
}

export interface SearcherConfig {
  dim: number;
  metric: Metric;
  headCount: number;
  /** Slots ever allocated (blocks cover [0, slotCount)). */
  slotCount: number;
  /** Slots per block record. */
  blockSlots: number;
  /** Coarse cell centres (cellCount × dim) for the `cells` plan, or null. */
  cells: Float32Array | null;
  cellCount: number;
  /** Posting entries per list on average (a scoped probe scans maxLists × this many in-scope entries). */
  meanListLength: number;
  /** The posting lists' codec. */
  codec: Codec;
  /**
   * With Residual (spec.ts): the slot blocks' codec (lists then hold codes of x − head, `codec` being
   * trained on such residuals); null when lists and blocks share `codec`.
   */
  blockCodec: Codec | null;
  refine: boolean;
  /** PCA of the posting payloads, or null. */
  pca: PcaTransform | null;
  /** What `prefetch: 'auto'` means for this index (options.ts): its file outgrows the memory it may use. */
  prefetchAuto: boolean;
}

/** A probe's lists chosen ahead of its search (SpannSearcher.prefetchAhead / provideLists). */
interface AheadChoice {
  queries: Float32Array | null;
  off: number;
  params: SearchParams | null;
  heads: Uint32Array;
  count: number;
  /** Its lists were advised (prefetched) when chosen. */
  advised: boolean;
}

export type Plan = 'probe' | 'exact' | 'cells' | 'probe+exact' | 'empty';

/** While no major faults are seen, the counter is read once per this many searches (watchFaults). */
const FAULT_SAMPLE = 16;

/**
 * The head-graph beam of an unscoped probe wanting `lists` heads, with efSearch 0 (auto): twice the
 * lists up to 16 more than them, at least 16. The graph search is a large share of a small probe and
 * a fixed beam of 64 was too wide there (1M × 96 at 16 lists: ef 64 -> 32 gives the same recall and
 * +17% QPS; fashion-mnist at 6 lists: ef 16, +25%), while wide probes need little slack (synthetic-aniso
 * at 80 lists: ef 160 costs 20% over ef 96 for +0.2 point).
 */
function autoEf(lists: number): number {
  return Math.max(16, lists + Math.min(lists, 16));
}
/** Head-graph beam of a scoped probe with efSearch 0 (raised to the heads it asks for). */
const SCOPED_EF = 64;

/** A scoped probe stops widening beyond this many lists (the exact fallback takes over). */
const MAX_WIDEN_HEADS = 4096;

export class SpannSearcher {
  private readonly reader: PostingReader;
  private readonly query: Float32Array;
  /** The query's bits (listsFor hashes them). */
  private readonly queryBits: Uint32Array;
  /** The query in the space posting lists are stored in (the query itself without PCA). */
  private readonly codeQuery: Float32Array;
  /** Per-query constant added to code-space distances (PCA with ip/cosine: -<q, mean>). */
  private distBias = 0;
  private readonly codeDim: number;
  private readonly full: Float32Array;
  private heads = new Uint32Array(64);
  private cellDist = new Float32Array(0);
  private cellOrder = new Float64Array(64);
  private readonly cellBits = new Float32Array(1);
  private readonly cellBitsU32 = new Uint32Array(this.cellBits.buffer);
  private headDist = new Float32Array(64);
  private heap = new TopK(10);
  private final = new TopK(10);
  private dists = new Float32Array(256);
  private candIds = new Uint32Array(40);
  private candDist = new Float32Array(40);
  /** The query prepared for the blocks' codec (and the lists', when they are not residual). */
  private prepared: PreparedQuery | null = null;
  /** Residual lists, ip/cosine: the query prepared once for the lists' codec (a head only shifts the distance). */
  private listPrepared: PreparedQuery | null = null;
  /** What `distances` scans with: the codec, its prepared query, and a constant added to each distance. */
  private scanCodec: Codec;
  private scanPrepared: PreparedQuery | null = null;
  private scanBias = 0;
  /** Residual lists: the head read for a list, in the original and the stored space, and q − head. */
  private readonly headFull: Float32Array;
  private readonly headCode: Float32Array;
  private readonly residQuery: Float32Array;
  /** The codec's transform of residQuery (reused per list). */
  private readonly residPrepared: Float32Array;
  /** Heads read by the current scoped query (cleared after it). */
  private visited: Uint8Array;
  /** The plan the last search ran. */
  lastPlan: Plan = 'probe';
  /** In-scope entries met by the current query (tenant section rows that pass the filter). */
  private inScope = 0;
  private headAllow: ((h: number) => boolean) | undefined;
  private allowFlags: Uint32Array | null = null;

  /** Deleted slots (tombstones.ts), or null when there are none: entries whose bit is set are skipped. */
  private dead: Uint32Array | null = null;

  /** Lists `prefetchAhead` chose (and advised) for queries not searched yet: two slots, oldest replaced. */
  private readonly ahead: AheadChoice[] = [0, 1].map(() => ({ queries: null, off: -1, params: null, heads: new Uint32Array(64), count: 0, advised: false }));
  private aheadNext = 0;
  /** The process's major page faults after the previous search, and whether that search took any. */
  private lastFaults = -1;
  private faulting = false;
  /** Searches since the fault counter was last read. */
  private sinceFaultCheck = 0;

  constructor(
    private readonly store: IndexStore,
    /** The head graph; null for a searcher that is always handed its lists (provideLists). */
    private readonly graph: HeadGraph | null,
    private cfg: SearcherConfig,
  ) {
    this.codeDim = cfg.pca ? cfg.pca.outDim : cfg.dim;
    this.reader = new PostingReader(this.codeDim, cfg.codec);
    this.query = new Float32Array(cfg.dim);
    this.queryBits = new Uint32Array(this.query.buffer);
    this.codeQuery = cfg.pca ? new Float32Array(this.codeDim) : this.query;
    this.full = new Float32Array(cfg.dim);
    this.headFull = new Float32Array(cfg.dim);
    this.headCode = cfg.pca ? new Float32Array(this.codeDim) : this.headFull;
    this.residQuery = new Float32Array(this.codeDim);
    this.residPrepared = new Float32Array(this.codeDim);
    this.scanCodec = cfg.blockCodec ?? cfg.codec;
    this.visited = new Uint8Array(cfg.headCount);
    this.headAllow = (h: number) => ((this.allowFlags![h >>> 5] >>> (h & 31)) & 1) === 1;
  }

  /** Follow a write: head numbers, slots and mean list length may have grown. */
  reconfigure(counts: { headCount: number; slotCount: number; postingEntries: number; liveHeads: number }): void {
    this.cfg = { ...this.cfg, headCount: counts.headCount, slotCount: counts.slotCount, meanListLength: counts.liveHeads > 0 ? counts.postingEntries / counts.liveHeads : 0 };
    if (this.visited.length < counts.headCount) this.visited = new Uint8Array(Math.ceil(counts.headCount * 1.25));
  }

  setTombstones(dead: Uint32Array | null): void {
    this.dead = dead;
  }

  /**
   * Search the query at `queries[qOff..qOff+dim)`; writes up to k results (external ids, nearest first,
   * padded with NO_ID) into outIds/outDist at outOff, adds to `stats`, returns the number found.
   * `scope` restricts the search to a tenant and/or filter; `plan` is the planner's choice for it.
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
    scope: Scope | null = null,
    plan: 'probe' | 'exact' | 'cells' = 'probe',
  ): number {
    // Lists and vectors are read as views of the index file while the search runs (IndexStore.beginRead).
    this.store.beginRead();
    try {
      this.prepareQuery(queries, qOff);
      const candidates = this.cfg.refine ? k * params.refineFactor : k;
      if (this.heap.capacity !== candidates) this.heap = new TopK(candidates);
      const heap = this.heap;
      heap.reset();

      if (scope && scope.count === 0) this.lastPlan = 'empty';
      else if (scope && plan === 'exact') {
        this.scanExact(scope, heap, stats);
        this.lastPlan = 'exact';
      } else if (scope && plan === 'cells' && scope.cellIds && this.cfg.cells) {
        this.scanCells(k, params, heap, stats, scope);
        this.lastPlan = 'cells';
      } else if (params.bypassIndex) {
        for (let h = 0; h < this.cfg.headCount; h++) this.scanList(h, heap, stats, scope);
        this.lastPlan = 'probe';
      } else if (!scope) {
        this.probe(params, heap, stats, queries, qOff);
        this.lastPlan = 'probe';
      } else {
        this.lastPlan = this.probeScoped(k, params, heap, stats, scope);
      }
      const found = this.cfg.refine ? this.rerank(k, params, outIds, outDist, outOff, stats) : heap.drainSorted(outIds, outDist, outOff);
      for (let i = 0; i < found; i++) outIds[outOff + i] = this.store.slots.idOf(outIds[outOff + i]);
      this.watchFaults(params);
      return found;
    } finally {
      this.store.endRead();
    }
  }

  private prepareQuery(queries: Float32Array, qOff: number): void {
    const { dim, metric, codec } = this.cfg;
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
    const blockCodec = this.cfg.blockCodec ?? codec;
    this.prepared = blockCodec.name === 'F32' ? null : blockCodec.prepare(this.codeQuery, metric);
    this.listPrepared = this.cfg.blockCodec && metric !== 'l2' ? codec.prepare(this.codeQuery, metric) : null;
  }

  /** Scan with the blocks' codec and the query as it is (slot blocks, and lists that are not residual). */
  private scanPlain(): void {
    this.scanCodec = this.cfg.blockCodec ?? this.cfg.codec;
    this.scanPrepared = this.prepared;
    this.scanBias = this.distBias;
  }

  /**
   * Scan list `head`: residual lists hold codes of x − c (c the head, in the stored space). l2:
   * ||q − x||² = ||(q − c) − (x − c)||², the codec's distance to q − c. ip: 1 − <q, x> = (1 − <q, x − c>)
   * − <q, c>, the codec's distance to q shifted by −<q, c>.
   */
  private scanListOf(head: number): void {
    if (!this.cfg.blockCodec) {
      this.scanPlain();
      return;
    }
    const { dim, metric, codec } = this.cfg;
    if (!this.store.heads.get(head, dim, this.headFull, 0)) throw createError('STRATA_INDEX_CORRUPT', `head ${head} has a list but no vector`, 'heads');
    if (this.cfg.pca) this.cfg.pca.project(this.headFull, 0, this.headCode, 0, true);
    const c = this.headCode, q = this.codeQuery, n = this.codeDim;
    this.scanCodec = codec;
    if (metric === 'l2') {
      for (let j = 0; j < n; j++) this.residQuery[j] = q[j] - c[j];
      this.scanPrepared = codec.prepare(this.residQuery, metric, this.residPrepared);
      this.scanBias = 0;
    } else {
      let qc = 0;
      for (let j = 0; j < n; j++) qc += q[j] * c[j];
      this.scanPrepared = this.listPrepared;
      this.scanBias = this.distBias - qc;
    }
  }

  /** The nearest `want` heads (with their bit set in `only`, when given) into this.heads/headDist; returns how many. */
  private nearestHeads(want: number, ef: number, only: Uint32Array | null = null): number {
    if (this.heads.length < want) {
      this.heads = new Uint32Array(want);
      this.headDist = new Float32Array(want);
    }
    this.allowFlags = only;
    if (!this.graph) throw new Error('this searcher has no head graph: its lists must be provided');
    return this.graph.search(this.query, 0, want, Math.max(ef, want), this.heads, this.headDist, only ? this.headAllow : undefined);
  }

  /**
   * Lists for a budget: a fractional one (a target recall between two measured budgets) is its floor
   * for some queries and its ceiling for the others, the ceiling for a share equal to the fraction —
   * chosen by a hash of the query's bits, so the same query always reads the same lists.
   */
  private listsFor(budget: number): number {
    const whole = Math.floor(budget);
    const frac = budget - whole;
    if (frac === 0) return whole;
    const bits = this.queryBits;
    let h = 0x811c9dc5;
    for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i], 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    return whole + ((h >>> 0) / 2 ** 32 < frac ? 1 : 0);
  }

  /** The lists an unscoped probe reads, nearest first, into this.heads; returns how many. */
  private probeLists(params: SearchParams): number {
    const want = Math.min(this.listsFor(params.maxLists), this.cfg.headCount);
    const found = this.nearestHeads(want, params.efSearch > 0 ? params.efSearch : autoEf(want));
    // The bound is taken from the second-nearest head: a query that sits on a head (a stored vector
    // searched for its neighbours) is at distance ~0 from it, and a bound of (1 + eps2) x 0 would
    // prune every other list.
    const reference = this.headDist[Math.min(1, found - 1)];
    for (let i = 2; i < found; i++) if (!withinBound(this.cfg.metric, this.headDist[i], reference, params.eps2)) return i;
    return found;
  }

  private probe(params: SearchParams, heap: TopK, stats: SearchStats, queries: Float32Array, qOff: number): void {
    let heads: Uint32Array = this.heads;
    let found: number;
    const chosen = this.ahead.find((a) => a.queries === queries && a.off === qOff && a.params === params);
    if (chosen) {
      // prefetchAhead chose these lists for this very query (same params) and already advised them.
      heads = chosen.heads;
      found = chosen.count;
      chosen.queries = null;
      if (chosen.advised) stats.listsPrefetched += found;
    } else {
      found = this.probeLists(params);
      heads = this.heads; // probeLists may have grown the array
      if (this.prefetching(params)) {
        this.advise(heads, found);
        stats.listsPrefetched += found;
      }
    }
    for (let i = 0; i < found; i++) this.scanList(heads[i], heap, stats, null);
  }

  /** The index's config as this searcher reads it. */
  get config(): SearcherConfig {
    return this.cfg;
  }

  /**
   * The lists an unscoped probe of the query at queries[qOff..] reads, into out[outOff..]; returns how
   * many (at most min(maxLists, heads)). For batches whose workers hold no head graph.
   */
  chooseLists(queries: Float32Array, qOff: number, params: SearchParams, out: Uint32Array, outOff: number): number {
    this.prepareQuery(queries, qOff);
    const found = this.probeLists(params);
    out.set(this.heads.subarray(0, found), outOff);
    return found;
  }

  /**
   * Hand this searcher the lists of the query at queries[qOff..] (chosen by chooseLists elsewhere): its
   * next `search` of that query with the same params scans them instead of searching a head graph;
   * advised now when prefetching, so their reads run while the current query is scanned.
   */
  provideLists(queries: Float32Array, qOff: number, params: SearchParams, lists: Uint32Array, off: number, count: number): void {
    const slot = this.ahead[this.aheadNext];
    this.aheadNext ^= 1;
    if (slot.heads.length < count) slot.heads = new Uint32Array(count);
    slot.heads.set(lists.subarray(off, off + count));
    const advised = this.prefetching(params);
    Object.assign(slot, { queries, off: qOff, params, count, advised });
    if (advised) this.advise(slot.heads, count);
  }

  /** Every list in heads[0..count) starts coming from the device now, in parallel (posting-store willNeed). */
  private advise(heads: Uint32Array, count: number): void {
    this.store.lists.willNeed('list', heads, count);
    this.store.lists.willNeed('appends', heads, count);
  }

  /**
   * For a batch: choose the lists of the query at queries[qOff..] and advise them now, so their reads
   * run while the current query is scanned; its `search` (with the same params) then reuses the
   * choice. Only for unscoped probes with prefetching on; otherwise does nothing.
   */
  prefetchAhead(queries: Float32Array, qOff: number, params: SearchParams): void {
    if (!this.prefetching(params) || params.bypassIndex) return;
    this.prepareQuery(queries, qOff);
    this.provideLists(queries, qOff, params, this.heads, 0, this.probeLists(params));
  }

  /**
   * Probe the nearest heads that hold in-scope entries (the graph search skips the others) until
   *   - max(2k, s^0.4 × maxLists × mean list length) in-scope entries were scanned (s: the scope's share
   *     of the vectors, scope.ts scopedEntryShare — a scope keeping 1% reads ~10× the lists of an
   *     unscoped search, not 100×),
   *   - at least maxLists lists were read (lists near a query are longer than the mean), and
   *   - at least k matches were found.
   * Without a budget (maxProbes), a probe that hits the widening limit with fewer than k matches
   * falls back to the exact scan.
   */
  private probeScoped(k: number, params: SearchParams, heap: TopK, stats: SearchStats, scope: Scope): Plan {
    const budget = params.maxProbes > 0 ? params.maxProbes : Infinity;
    const limit = Math.min(scope.headCount, MAX_WIDEN_HEADS, budget);
    const need = Math.min(k, scope.count);
    const entryTarget = Math.max(2 * need, params.maxLists * this.cfg.meanListLength * scopedEntryShare(scope.count, this.cfg.slotCount));
    const visited = this.visited;
    const touched: number[] = [];
    this.inScope = 0;
    // First ask for 1.5× the heads expected to hold entryTarget in-scope entries (the scope's entries
    // spread over the heads that hold any of them).
    const perHead = Math.max(1e-3, (this.cfg.meanListLength * this.cfg.headCount * scope.count) / (Math.max(1, this.cfg.slotCount) * Math.max(1, scope.headCount)));
    let fetch = Math.min(limit, Math.max(params.maxLists, Math.ceil((1.5 * entryTarget) / perHead)));
    let probed = 0;
    outer: for (;;) {
      const found = this.nearestHeads(fetch, params.efSearch > 0 ? params.efSearch : SCOPED_EF, scope.heads);
      for (let i = 0; i < found; i++) {
        const h = this.heads[i];
        if (visited[h]) continue;
        visited[h] = 1;
        touched.push(h);
        this.scanList(h, heap, stats, scope);
        probed++;
        if (probed >= budget || (probed >= params.maxLists && this.inScope >= entryTarget && heap.size >= need)) break outer;
      }
      if (found < fetch || fetch >= limit) break;
      fetch = Math.min(limit, fetch * 2);
    }
    for (const h of touched) visited[h] = 0;
    if (heap.size < need && params.maxProbes === 0) {
      heap.reset();
      this.scanExact(scope, heap, stats);
      return 'probe+exact';
    }
    return 'probe';
  }

  private prefetching(params: SearchParams): boolean {
    return params.prefetch === 'auto' ? this.cfg.prefetchAuto || this.faulting : params.prefetch;
  }

  /**
   * 'auto' on an index that fits in memory: watch the process's major page faults (0.8 µs a read) and
   * prefetch while searches keep taking them — a cold start, or memory taken by other work — and stop
   * once lists are served from the page cache again.
   */
  private watchFaults(params: SearchParams): void {
    if (params.prefetch !== 'auto' || this.cfg.prefetchAuto) return;
    // Reading the counter costs a syscall (~3% of a small search): once every FAULT_SAMPLE searches
    // while none are seen, after every search while they are.
    if (!this.faulting && ++this.sinceFaultCheck < FAULT_SAMPLE) return;
    this.sinceFaultCheck = 0;
    const f = majorFaults();
    this.faulting = this.lastFaults >= 0 && f > this.lastFaults;
    this.lastFaults = f;
  }

  /** Exact distances for the compressed-domain candidates, from the full-precision vectors. */
  private rerank(k: number, params: SearchParams, outIds: Uint32Array, outDist: Float32Array, outOff: number, stats: SearchStats): number {
    const { dim, metric } = this.cfg;
    const heap = this.heap;
    if (this.candIds.length < heap.capacity) {
      this.candIds = new Uint32Array(heap.capacity);
      this.candDist = new Float32Array(heap.capacity);
    }
    const n = heap.drainSorted(this.candIds, this.candDist, 0);
    if (this.prefetching(params)) this.store.vectors.willNeed(this.candIds, n);
    if (this.final.capacity !== k) this.final = new TopK(k);
    const final = this.final;
    final.reset();
    const kernel = batchKernel(metric);
    const one = this.dists;
    for (let i = 0; i < n; i++) {
      const slot = this.candIds[i];
      if (slot === NO_ID) break;
      const bytes = this.store.vectors.getFast(slot);
      if (!bytes || bytes.length !== dim * 4) throw createError('STRATA_INDEX_CORRUPT', `full-precision vector of slot ${slot} is missing or has the wrong size`, 'vectors');
      // getBinaryFast's Buffer only overrides .length: view exactly the value's bytes before copying.
      new Uint8Array(this.full.buffer).set(bytes.subarray(0, dim * 4));
      kernel(this.query, 0, this.full, 0, 1, dim, one, 0);
      final.push(one[0], slot);
      stats.bytesRead += bytes.length;
    }
    return final.drainSorted(outIds, outDist, outOff);
  }

  /** Distances of rows [a, b) of a posting-format view into this.dists[0, b - a). */
  private distances(view: PostingView, a: number, b: number): Float32Array {
    const count = b - a;
    if (this.dists.length < count) this.dists = new Float32Array(Math.max(count, this.dists.length * 2));
    const dists = this.dists;
    if (view.vectors) batchKernel(this.cfg.metric)(this.codeQuery, 0, view.vectors, a * this.codeDim, count, this.codeDim, dists, 0);
    else this.scanCodec.distances(this.scanPrepared!, view.codes, a * this.scanCodec.bytesPerVector, count, dists);
    const bias = this.scanBias;
    if (bias !== 0) for (let i = 0; i < count; i++) dists[i] += bias;
    return dists;
  }

  /**
   * Push rows [a, b) of a view (slots in view.ids), testing filter bits when the scope has them;
   * returns how many distances were computed. Against a sparse filter (at most a quarter of the rows
   * pass) only the passing rows get a distance, one call each; otherwise the whole range in one call.
   */
  private pushRows(view: PostingView, a: number, b: number, heap: TopK, scope: Scope | null): number {
    if (b <= a) return 0;
    const ids = view.ids;
    const bits = scope ? scope.bits : null;
    const neg = scope?.negate ? 1 : 0;
    const dead = this.dead;
    if (bits && !neg) {
      let passed = 0;
      for (let i = a; i < b; i++) passed += (bits[ids[i] >>> 5] >>> (ids[i] & 31)) & 1;
      if (4 * passed <= b - a) {
        this.inScope += passed;
        let computed = 0;
        for (let i = a, left = passed; i < b && left > 0; i++) {
          const s = ids[i];
          if (((bits[s >>> 5] >>> (s & 31)) & 1) === 0) continue;
          left--;
          if (dead !== null && ((dead[s >>> 5] >>> (s & 31)) & 1) === 1) continue;
          computed++;
          const d = this.distances(view, i, i + 1)[0];
          if (d < heap.worst()) heap.pushUnique(d, s);
        }
        return computed;
      }
    }
    const dists = this.distances(view, a, b);
    let worst = heap.worst();
    if (!bits && dead === null) {
      this.inScope += b - a;
      for (let i = a; i < b; i++) {
        const d = dists[i - a];
        if (d < worst && heap.pushUnique(d, ids[i])) worst = heap.worst();
      }
      return b - a;
    }
    // Slots past the scope's view of the index (written after it was resolved) are out of it.
    const limit = scope ? scope.slotLimit : 0xffffffff;
    let passed = 0;
    for (let i = a; i < b; i++) {
      const s = ids[i];
      if (bits !== null && (((bits[s >>> 5] >>> (s & 31)) & 1) === neg || s >= limit)) continue;
      if (dead !== null && ((dead[s >>> 5] >>> (s & 31)) & 1) === 1) continue;
      passed++;
      const d = dists[i - a];
      if (d < worst && heap.pushUnique(d, s)) worst = heap.worst();
    }
    this.inScope += passed;
    return b - a;
  }

  /** One posting list: its rewritten part, then the entries appended since (both sorted by slot). */
  private scanList(head: number, heap: TopK, stats: SearchStats, scope: Scope | null): void {
    let read = 0;
    this.scanListOf(head);
    const base = this.store.lists.get('list', head, true);
    if (base) read += this.scanValue(base, head, 'list', heap, stats, scope); // done with the buffer before the next read
    const appended = this.store.lists.get('appends', head, true);
    if (appended) read += this.scanValue(appended, head, 'appends', heap, stats, scope);
    if (read > 0) stats.listsProbed++;
  }

  /** Scan one posting-format value (all of it, or the tenant's sections); returns the entries read. */
  private scanValue(bytes: Uint8Array, head: number, space: PostingSpace, heap: TopK, stats: SearchStats, scope: Scope | null): number {
    const view = this.reader.read(bytes, head, space);
    const entryBytes = 4 + this.cfg.codec.bytesPerVector;
    if (!scope?.runs || !scope.sections) {
      stats.vectorsScanned += this.pushRows(view, 0, view.count, heap, scope);
      stats.bytesRead += bytes.length;
      return view.count;
    }
    // Only the tenant's sections: [lowerBound(start), lowerBound(end)) per run of its slots.
    const runs = scope.runs, ids = view.ids;
    let read = 0;
    for (let r = 0; r < runs.length; r += 2) {
      const a = lowerBound(ids, runs[r]);
      if (a === view.count) break;
      const b = lowerBound(ids, runs[r + 1], a);
      stats.vectorsScanned += this.pushRows(view, a, b, heap, scope);
      read += b - a;
    }
    stats.bytesRead += read * entryBytes;
    return read;
  }

  /** Every allowed vector once, from the slot blocks covering the scope's runs. */
  private scanExact(scope: Scope, heap: TopK, stats: SearchStats): void {
    const runs = scope.runs ?? Uint32Array.of(0, this.cfg.slotCount);
    for (let r = 0; r < runs.length; r += 2) this.scanRange(runs[r], Math.min(runs[r + 1], this.cfg.slotCount), scope, heap, stats);
  }

  /** The allowed vectors of slots [s, e), from the slot blocks, each once. */
  private scanRange(s: number, e: number, scope: Scope, heap: TopK, stats: SearchStats): void {
    this.scanPlain();
    const bits = scope.bits;
    const entryBytes = 4 + this.cfg.codec.bytesPerVector;
    const B = this.cfg.blockSlots;
    for (let blk = Math.floor(s / B); blk * B < e; blk++) {
      const lo = Math.max(s, blk * B), hi = Math.min(e, (blk + 1) * B);
      if (bits && !scope.negate && !anyBit(bits, lo, hi)) continue;
      const bytes = this.store.lists.get('block', blk, true);
      if (!bytes) continue;
      const view = this.reader.read(bytes, blk, 'block');
      const a = lowerBound(view.ids, lo);
      const b = lowerBound(view.ids, hi, a);
      stats.vectorsScanned += this.pushRows(view, a, b, heap, scope);
      stats.bytesRead += (b - a) * entryBytes;
    }
  }

  /**
   * The tenant's own inverted lists: its vectors are laid out by coarse cell (at build time), so each
   * of its cells is one slot range. Cells are read nearest first until maxLists × mean list length in-scope vectors
   * were met and k matches found (all of them when that never happens: then it is the exact scan).
   */
  private scanCells(k: number, params: SearchParams, heap: TopK, stats: SearchStats, scope: Scope): void {
    const ids = scope.cellIds!, starts = scope.cellStarts!;
    const m = ids.length;
    const C = this.cfg.cellCount;
    if (this.cellDist.length < C) this.cellDist = new Float32Array(C);
    batchKernel(this.cfg.metric)(this.query, 0, this.cfg.cells!, 0, C, this.cfg.dim, this.cellDist, 0);
    // Order the tenant's cells by distance with one native sort: a non-negative float's bits order
    // like the float, so (bits × MAX_CELLS + index) sorts by distance, then index (a tenant has at
    // most MAX_CELLS cells, so the index fits below the multiplier).
    if (this.cellOrder.length < m) this.cellOrder = new Float64Array(Math.max(m, 2 * this.cellOrder.length));
    const order = this.cellOrder.subarray(0, m);
    const f = this.cellBits, u = this.cellBitsU32;
    let minD = Infinity;
    for (let i = 0; i < m; i++) minD = Math.min(minD, this.cellDist[ids[i]]);
    for (let i = 0; i < m; i++) {
      f[0] = this.cellDist[ids[i]] - minD; // shifted to >= 0 (ip distances may be negative)
      order[i] = u[0] * MAX_CELLS + i;
    }
    order.sort();
    const target = params.maxLists * this.cfg.meanListLength;
    const need = Math.min(k, scope.count);
    // Vectors inserted after the build sit outside the cell layout: scanned first, exactly. They are
    // not near the query for being scanned, so the walk's budget counts cell entries only.
    if (scope.runs && m > 0) {
      const lo = starts[0], hi = starts[m], runs = scope.runs;
      for (let r = 0; r < runs.length; r += 2) {
        if (runs[r] < lo) this.scanRange(runs[r], Math.min(runs[r + 1], lo), scope, heap, stats);
        if (runs[r + 1] > hi) this.scanRange(Math.max(runs[r], hi), Math.min(runs[r + 1], this.cfg.slotCount), scope, heap, stats);
      }
    }
    this.inScope = 0;
    for (let j = 0; j < m; j++) {
      const i = order[j] % MAX_CELLS;
      this.scanRange(starts[i], starts[i + 1], scope, heap, stats);
      stats.listsProbed++;
      if (this.inScope >= target && heap.size >= need) break;
    }
  }
}

/** Whether any bit in [lo, hi) is set. */
function anyBit(bits: Uint32Array, lo: number, hi: number): boolean {
  for (let s = lo; s < hi; ) {
    const w = bits[s >>> 5];
    if ((s & 31) === 0 && s + 32 <= hi) {
      if (w !== 0) return true;
      s += 32;
    } else {
      if ((w >>> (s & 31)) & 1) return true;
      s++;
    }
  }
  return false;
}
