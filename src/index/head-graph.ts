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
}

export class HeadGraph {
  readonly dim: number;
  readonly count: number;
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
    n = Math.min(n, this.count);
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
