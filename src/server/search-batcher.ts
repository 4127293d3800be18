/**
 * Micro-batching of search requests. Queries that arrive in the same event-loop turn for the same
 * collection, k and options are sent to the collection's search pool as ONE batch (one piscina
 * task per chunk instead of one per request): under concurrency the per-request dispatch cost is
 * shared, with no added wait (the batch leaves at the end of the turn it was opened in).
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

export class SearchBatcher {
  private groups = new Map<string, Group>();
  private scheduled = false;
  pending = 0;
  /** Queries sent to the pool, and the number of batches they went in (metrics). */
  queriesRun = 0;
  batchesRun = 0;

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
    for (const g of groups) this.launch(g);
  }

  private launch(g: Group): void {
    const dim = g.queries[0].length;
    const flat = new Float32Array(g.rows * dim);
    for (let i = 0; i < g.rows; i++) flat.set(g.queries[i], i * dim);
    this.queriesRun += g.rows;
    this.batchesRun++;
    g.index
      .searchBatch(flat, g.k, g.options)
      .then((r) => {
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
      })
      .catch((e) => {
        for (const w of g.waiters) w.reject(e);
      })
      .finally(() => {
        this.pending -= g.rows;
      });
  }
}
