/**
 * Where a search runs. Queries that arrive in the same event-loop turn for the same collection, k
 * and options form one group (no added wait: the group leaves at the end of the turn it was opened
 * in). A small group (< POOL_MIN_GROUP) of a collection whose queries are cheap is searched right
 * here on the event loop; a large group (a batch request, or many requests meeting in one turn
 * because the loop is busy), or a collection whose queries average above INLINE_MAX_MICROS (long
 * probes would stall every other request on the loop), goes to the collection's piscina search
 * pool as ONE batch (a task per chunk, not per request).
 *
 * Why (BENCHMARKS.md, HTTP service, issue 23): a piscina task costs ~0.3 ms of messages and wake-ups
 * against ~0.1 ms for the search on the 100k × 96 benchmark set, and micro-batches at 8 connections
 * held 3.3 queries; searching on the event loop served 1.5× the requests with less CPU per request.
 * Persistent workers fed through a SharedArrayBuffer ring (no message per query) were built and
 * measured too, and did not beat the event loop on 2 cores: not kept.
 *
 * Admission: at most `maxPending` queries are admitted (queued or running); past that a search
 * fails at once with STRATA_OVERLOADED, which the service answers with 503 and Retry-After.
 */
import { createError } from '../errors.js';
import type { SearchOptions, SpannIndex } from '../index/spann.js';

export interface Hit {
  id: number;
  distance: number;
}

interface Group {
  index: SpannIndex;
  k: number;
  options: SearchOptions;
  queries: Float32Array[];
  waiters: Array<{ resolve: (hits: Hit[][]) => void; reject: (e: unknown) => void; first: number; count: number }>;
  rows: number;
}

/** Largest batch sent at once (more queries open another group). */
const MAX_GROUP_QUERIES = 256;
/** Groups of at least this many queries go to the pool. */
export const POOL_MIN_GROUP = 16;
/** A collection's queries whose measured time (moving average) is above this many µs go to the pool. */
export const INLINE_MAX_MICROS = 1000;
/** Searches of a handle on the event loop before their times count. */
const WARMUP = 4;

export class SearchBatcher {
  private groups = new Map<string, Group>();
  private scheduled = false;
  pending = 0;
  /** Queries sent to the pool, and the number of batches they went in (metrics); queries searched on the event loop. */
  queriesRun = 0;
  batchesRun = 0;
  queriesInline = 0;
  /** Moving average of one query's time on the event loop, µs, per index handle. */
  private readonly inlineMicros = new WeakMap<SpannIndex, { searches: number; avg: number }>();
  private slowSkipped = 0;

  constructor(
    private readonly maxPending: number,
    /** A collection whose queries average above this many µs on the event loop is searched on the pool. */
    private readonly inlineMaxMicros = INLINE_MAX_MICROS,
  ) {}

  /**
   * Search `queries` (one Float32Array per query) in `index`. Resolves with k hits (fewer when the
   * scope holds fewer) per query, nearest first.
   */
  search(key: string, index: SpannIndex, queries: Float32Array[], k: number, options: SearchOptions): Promise<Hit[][]> {
    if (this.pending + queries.length > this.maxPending) {
      throw createError('STRATA_OVERLOADED', `${this.pending} queries are in flight (limit ${this.maxPending})`, 'queries');
    }
    this.pending += queries.length;
    const groupKey = `${key}\u0000${k}\u0000${JSON.stringify(options)}`;
    let g = this.groups.get(groupKey);
    if (!g || g.index !== index || g.rows + queries.length > MAX_GROUP_QUERIES) {
      if (g) this.groups.delete(groupKey), this.launch(g);
      g = { index, k, options, queries: [], waiters: [], rows: 0 };
      this.groups.set(groupKey, g);
    }
    const group = g;
    return new Promise<Hit[][]>((resolve, reject) => {
      group.waiters.push({ resolve, reject, first: group.rows, count: queries.length });
      for (const q of queries) group.queries.push(q);
      group.rows += queries.length;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const g of groups) {
      // A slow collection's lone query still runs here now and then (1 in 64), so the average
      // follows a collection that became cheap again.
      const slow = (this.inlineMicros.get(g.index)?.avg ?? 0) > this.inlineMaxMicros && !(g.rows === 1 && ++this.slowSkipped % 64 === 0);
      if (g.rows >= POOL_MIN_GROUP || slow) this.launch(g);
      else this.searchSmall(g);
    }
  }

  /** A small group of cheap queries, one at a time on this thread; each waiter is answered with its last query. */
  private searchSmall(g: Group): void {
    for (const w of g.waiters) {
      const out: Hit[][] = [];
      try {
        for (let q = w.first; q < w.first + w.count; q++) out.push(this.searchHere(g, q));
      } catch (e) {
        this.pending -= w.count;
        w.reject(e);
        continue;
      }
      this.pending -= w.count;
      w.resolve(out);
    }
  }

  /** Query q of the group on this thread (its time feeds the collection's moving average). */
  private searchHere(g: Group, q: number): Hit[] {
    const t0 = performance.now();
    const r = g.index.search(g.queries[q], g.k, g.options);
    const micros = (performance.now() - t0) * 1000;
    // The first WARMUP searches of a handle are not counted: a cold search (page faults, lazy loads)
    // must not send a cheap collection to the pool.
    const m = this.inlineMicros.get(g.index) ?? { searches: 0, avg: 0 };
    if (++m.searches > WARMUP) m.avg += (micros - m.avg) / 16;
    this.inlineMicros.set(g.index, m);
    this.queriesInline++;
    return toHits(r.ids, r.distances);
  }

  private launch(g: Group): void {
    const dim = g.queries[0].length;
    const flat = new Float32Array(g.rows * dim);
    for (let i = 0; i < g.rows; i++) flat.set(g.queries[i], i * dim);
    this.queriesRun += g.rows;
    this.batchesRun++;
    // Admission counts the group out before its waiters hear back (a client that searches again at
    // once is not refused for queries already answered).
    g.index.searchBatch(flat, g.k, g.options).then(
      (r) => {
        this.pending -= g.rows;
        for (const w of g.waiters) {
          const out: Hit[][] = [];
          for (let q = w.first; q < w.first + w.count; q++) out.push(toHits(r.ids.subarray(q * r.k, (q + 1) * r.k), r.distances.subarray(q * r.k, (q + 1) * r.k)));
          w.resolve(out);
        }
      },
      (e) => {
        this.pending -= g.rows;
        for (const w of g.waiters) w.reject(e);
      },
    );
  }
}

/** Hits from a search's ids and distances (a non-finite distance ends them). */
function toHits(ids: Uint32Array, distances: Float32Array): Hit[] {
  const hits: Hit[] = [];
  for (let j = 0; j < ids.length && Number.isFinite(distances[j]); j++) hits.push({ id: ids[j], distance: distances[j] });
  return hits;
}
