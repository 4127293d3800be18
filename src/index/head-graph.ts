/**
 * Stage 2: the in-memory graph over head vectors, an hnswlib-node HNSW. Labels are head numbers
 * (0..heads-1); distances follow the conventions of distance.ts (hnswlib's own).
 */
import hnswlib from 'hnswlib-node';
import type { Metric } from './distance.js';

export interface HeadGraphOptions {
  m: number;
  efConstruction: number;
  seed: number;
  onProgress?: (added: number) => void;
  /** live[h] = 0: no head h (a merged head number); default every head exists. */
  live?: Uint8Array;
}

export class HeadGraph {
  readonly dim: number;
  /** Head numbers the graph has seen (its label space; merged heads stay as deleted labels). */
  count: number;
  /** heads version (meta.headsVersion) the graph reflects. */
  version = 0;
  private readonly hnsw: hnswlib.HierarchicalNSW;
  /** Reused conversion buffer: hnswlib-node takes plain arrays, so queries are copied into it. */
  private readonly scratch: number[];
  private ef = -1;

  private constructor(hnsw: hnswlib.HierarchicalNSW, dim: number, count: number) {
    this.hnsw = hnsw;
    this.dim = dim;
    this.count = count;
    this.scratch = new Array<number>(dim).fill(0);
  }

  private static space(metric: Metric): 'l2' | 'ip' {
    // Cosine vectors are normalised before they reach the graph, so inner product is exact for them.
    return metric === 'l2' ? 'l2' : 'ip';
  }

  /** Build over `heads` (count × dim, already normalised for cosine). */
  static build(heads: Float32Array, dim: number, metric: Metric, options: HeadGraphOptions): HeadGraph {
    const count = heads.length / dim;
    const hnsw = new hnswlib.HierarchicalNSW(HeadGraph.space(metric), dim);
    hnsw.initIndex({ maxElements: Math.max(1, count), m: options.m, efConstruction: options.efConstruction, randomSeed: options.seed });
    const g = new HeadGraph(hnsw, dim, count);
    for (let h = 0; h < count; h++) {
      if (options.live && options.live[h] === 0) continue;
      hnsw.addPoint(g.toArray(heads, h * dim), h);
      if ((h & 1023) === 1023) options.onProgress?.(h + 1);
    }
    options.onProgress?.(count);
    return g;
  }

  static load(file: string, dim: number, metric: Metric): HeadGraph {
    const hnsw = new hnswlib.HierarchicalNSW(HeadGraph.space(metric), dim);
    hnsw.readIndexSync(file);
    return new HeadGraph(hnsw, dim, hnsw.getCurrentCount());
  }

  save(file: string): void {
    this.hnsw.writeIndexSync(file);
  }

  /**
   * Add head h (a new number: count grows to h + 1), or move an existing head to a new vector
   * (hnswlib re-links it in place; a deleted head comes back). `v[off..off+dim)`.
   */
  put(h: number, v: Float32Array, off: number): void {
    if (h >= this.hnsw.getMaxElements()) this.hnsw.resizeIndex(Math.max(h + 1, Math.ceil(this.hnsw.getMaxElements() * 1.25)));
    this.hnsw.addPoint(this.toArray(v, off), h);
    if (h >= this.count) this.count = h + 1;
  }

  /** Remove head h from search results (a merged head; hnswlib keeps it as a routing node). */
  remove(h: number): void {
    if (this.has(h)) this.hnsw.markDelete(h);
  }

  /** Whether head h is in the graph and not removed. */
  has(h: number): boolean {
    try {
      this.hnsw.getPoint(h);
      return true;
    } catch {
      return false;
    }
  }

  private toArray(v: Float32Array, off: number): number[] {
    const a = this.scratch;
    for (let i = 0; i < this.dim; i++) a[i] = v[off + i];
    return a;
  }

  /**
   * The `n` nearest heads of the vector at `v[off..off+dim)`, ascending by distance, written into
   * outHeads/outDist (only heads for which `allow` holds, when given). Returns how many were found.
   */
  search(v: Float32Array, off: number, n: number, ef: number, outHeads: Uint32Array, outDist: Float32Array, allow?: (head: number) => boolean): number {
    n = Math.min(n, this.count, this.hnsw.getMaxElements());
    const wantEf = Math.max(ef, n);
    if (wantEf !== this.ef) {
      this.hnsw.setEf(wantEf);
      this.ef = wantEf;
    }
    // With `allow`, hnswlib only returns heads it accepts (fewer than n when fewer exist).
    const res = allow ? this.hnsw.searchKnn(this.toArray(v, off), n, allow) : this.hnsw.searchKnn(this.toArray(v, off), n);
    const found = res.neighbors.length;
    for (let i = 0; i < found; i++) {
      outHeads[i] = res.neighbors[i];
      outDist[i] = res.distances[i];
    }
    return found;
  }
}
