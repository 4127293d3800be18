/**
 * A bounded max-heap of (distance, id) on typed arrays: keeps the k smallest distances seen.
 * Allocated once per search (or once per worker) and reset between queries.
 */
export class TopK {
  readonly capacity: number;
  readonly dist: Float32Array;
  readonly ids: Uint32Array;
  size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.dist = new Float32Array(capacity);
    this.ids = new Uint32Array(capacity);
  }

  reset(): void {
    this.size = 0;
  }

  /** The distance a candidate must beat to enter (Infinity while not full). */
  worst(): number {
    return this.size < this.capacity ? Infinity : this.dist[0];
  }

  /** Insert; returns false when the candidate does not improve the heap. */
  push(d: number, id: number): boolean {
    if (this.size < this.capacity) {
      this.siftUp(this.size++, d, id);
      return true;
    }
    if (d >= this.dist[0]) return false;
    this.siftDown(d, id);
    return true;
  }

  /**
   * Insert unless `id` is already held. Posting lists replicate vectors, and a replica always has the
   * same distance as its original, so only candidates that would enter are checked (k compares).
   */
  pushUnique(d: number, id: number): boolean {
    if (this.size >= this.capacity && d >= this.dist[0]) return false;
    const ids = this.ids;
    for (let i = 0; i < this.size; i++) if (ids[i] === id) return false;
    return this.push(d, id);
  }

  private siftUp(pos: number, d: number, id: number): void {
    const dist = this.dist, ids = this.ids;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (dist[parent] >= d) break;
      dist[pos] = dist[parent];
      ids[pos] = ids[parent];
      pos = parent;
    }
    dist[pos] = d;
    ids[pos] = id;
  }

  private siftDown(d: number, id: number): void {
    const dist = this.dist, ids = this.ids, n = this.size;
    let pos = 0;
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && dist[r] > dist[l] ? r : l;
      if (dist[c] <= d) break;
      dist[pos] = dist[c];
      ids[pos] = ids[c];
      pos = c;
    }
    dist[pos] = d;
    ids[pos] = id;
  }

  /**
   * Write the held results in ascending distance order (ties by id) into the output arrays at `offset`,
   * padding unused slots with id 0xFFFFFFFF and distance Infinity. Returns the number of results.
   */
  drainSorted(outIds: Uint32Array, outDist: Float32Array, offset = 0): number {
    const n = this.size;
    const order = new Array<number>(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const dist = this.dist, ids = this.ids;
    order.sort((a, b) => dist[a] - dist[b] || ids[a] - ids[b]);
    for (let i = 0; i < n; i++) {
      outIds[offset + i] = ids[order[i]];
      outDist[offset + i] = dist[order[i]];
    }
    for (let i = n; i < this.capacity; i++) {
      outIds[offset + i] = NO_ID;
      outDist[offset + i] = Infinity;
    }
    this.size = 0;
    return n;
  }
}

/** Marks an empty result slot. */
export const NO_ID = 0xffffffff;
