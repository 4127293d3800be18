/**
 * Where a search runs. Queries that arrive in the same event-loop turn for the same collection, k
 * and options form one group (no added wait: the group leaves at the end of the turn it was opened
 * in). A small group of cheap queries is searched right here on the event loop; a large group (a
 * batch request, or many requests meeting in one turn because the loop is busy), or a collection
 * whose queries take long, goes to the collection's search pool as ONE batch (one piscina task per
 * chunk, not one per request).
 *
 * Why: a hand-off to a worker thread and back costs ~0.3 ms of wake-ups and copies against ~0.1 ms
 * for the search itself on the 100k × 96 benchmark set; on a 2-core machine the event loop answering
 * small searches itself served 1.5× the requests of the pool at 8 connections, with less CPU per
 * request (BENCHMARKS.md, HTTP service, issue 23). The pool takes over where it pays: groups of
 * POOL_MIN_GROUP queries or more, which form when the loop falls behind, and queries measured above
 * INLINE_MAX_MICROS (long probes would stall every other request on the loop).
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

export class SearchBatcher {
  private groups = new Map<string, Group>();
  private scheduled = false;
  pending = 0;
  /** Queries sent to the pool, and the number of batches they went in (metrics); queries searched on the event loop. */
  queriesRun = 0;
  batchesRun = 0;
  queriesInline = 0;
  /** Moving average of one query's time on the event loop, µs, per index handle. */
  private readonly inlineMicros = new WeakMap<SpannIndex, number>();
  private slowSkipped = 0;

  constructor(private readonly maxPending: number) {}

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
      const slow = (this.inlineMicros.get(g.index) ?? 0) > INLINE_MAX_MICROS && !(g.rows === 1 && ++this.slowSkipped % 64 === 0);
      if (g.rows >= POOL_MIN_GROUP || slow) this.launch(g);
      else this.searchHere(g);
    }
  }

  /** The group's queries, one at a time on this thread; each waiter is answered as its last query is done. */
  private searchHere(g: Group): void {
    let avg = this.inlineMicros.get(g.index);
    for (const w of g.waiters) {
      const out: Hit[][] = [];
      try {
        for (let q = w.first; q < w.first + w.count; q++) {
          const t0 = performance.now();
          const r = g.index.search(g.queries[q], g.k, g.options);
          const micros = (performance.now() - t0) * 1000;
          // From 0, so one cold first search (page faults, lazy loads) does not send a cheap collection to the pool.
          avg = (avg ?? 0) + (micros - (avg ?? 0)) / 16;
          const hits: Hit[] = [];
          for (let j = 0; j < r.ids.length && Number.isFinite(r.distances[j]); j++) hits.push({ id: r.ids[j], distance: r.distances[j] });
          out.push(hits);
        }
        this.queriesInline += w.count;
        this.pending -= w.count;
        w.resolve(out);
      } catch (e) {
        this.pending -= w.count;
        w.reject(e);
      }
    }
    if (avg !== undefined) this.inlineMicros.set(g.index, avg);
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
          for (let q = w.first; q < w.first + w.count; q++) {
            const hits: Hit[] = [];
            for (let j = 0; j < r.k; j++) {
              const id = r.ids[q * r.k + j];
              const d = r.distances[q * r.k + j];
              if (!Number.isFinite(d)) break;
              hits.push({ id, distance: d });
            }
            out.push(hits);
          }
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
