/**
 * A collection's points as clients sent them: id -> tenant, metadata and the full-precision vector,
 * in one LMDB environment at <collection>/points.mdb (beside the index generations). It answers
 * get-by-id with the metadata and vector, and it is what a rebuild re-clusters from: the index
 * itself may hold only compressed or projected vectors.
 *
 * Writes are synchronous LMDB commits made by the ingest thread BEFORE the index write they belong
 * to, so every point the index holds is here (a crash in between leaves an unacknowledged point here
 * that the client re-sends). The environment also records which index generation is current.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { createError } from '../errors.js';
import type { Attributes } from '../index/filter.js';

export const POINTS_FILE = 'points.mdb';

interface PointRecord {
  /** tenant */
  t: string;
  /** metadata (attributes), null when none */
  m: Attributes | null;
  /** the vector, float32 little-endian bytes */
  v: Uint8Array;
}

export interface StoredPoint {
  id: number;
  tenant: string;
  metadata: Attributes | null;
  vector: Float32Array;
}

/** Every point at one moment, in the shape SpannIndex.build takes. */
export interface PointSnapshot {
  ids: Uint32Array;
  vectors: Float32Array;
  tenants: string[];
  attributes: Array<Attributes | null>;
}

export class PointStore {
  private constructor(
    private readonly path: string,
    private readonly root: RootDatabase,
    private readonly points: Database<PointRecord, number>,
    private readonly meta: Database<number, string>,
    readonly dim: number,
  ) {}

  static open(dir: string, dim: number, options: { readOnly?: boolean; create?: boolean } = {}): PointStore {
    const path = join(dir, POINTS_FILE);
    if (!existsSync(path)) {
      if (!options.create) throw createError('STRATA_INDEX_CORRUPT', `the collection folder ${dir} has no ${POINTS_FILE}`, 'dataDir');
      mkdirSync(dir, { recursive: true });
    }
    const root = open({ path, readOnly: options.readOnly ?? false, maxDbs: 4 });
    return new PointStore(path, root, root.openDB<PointRecord, number>({ name: 'points', keyEncoding: 'uint32' }), root.openDB<number, string>({ name: 'meta' }), dim);
  }

  /** The index generation in use (index-<n> folder); 0 before the first. */
  get generation(): number {
    return this.meta.get('generation') ?? 0;
  }

  /** Durable once it returns. */
  setGeneration(n: number): void {
    this.root.transactionSync(() => this.meta.putSync('generation', n));
  }

  /** Bytes of points.mdb on disk. */
  diskBytes(): number {
    return statSync(this.path).blocks * 512;
  }

  get count(): number {
    return (this.points.getStats() as { entryCount: number }).entryCount;
  }

  /** Follow the ingest thread's commits (read-only handles). */
  refresh(): void {
    this.root.resetReadTxn();
  }

  /** Insert or replace points; durable once it returns. `vectors` is ids.length × dim. */
  putMany(ids: Uint32Array, vectors: Float32Array, tenants: string[], metadata: Array<Attributes | null>): void {
    const dim = this.dim;
    this.root.transactionSync(() => {
      for (let i = 0; i < ids.length; i++) {
        const v = new Uint8Array(vectors.buffer, vectors.byteOffset + i * dim * 4, dim * 4);
        this.points.putSync(ids[i], { t: tenants[i], m: metadata[i] ?? null, v });
      }
    });
  }

  /** Remove points; durable once it returns. Returns how many existed. */
  removeMany(ids: Uint32Array): number {
    let removed = 0;
    this.root.transactionSync(() => {
      for (const id of ids) if (this.points.removeSync(id)) removed++;
    });
    return removed;
  }

  /** Remove every point of `tenant` (a scan); durable once it returns. */
  removeTenant(tenant: string): number {
    const ids: number[] = [];
    for (const { key, value } of this.points.getRange()) if (value.t === tenant) ids.push(key);
    return this.removeMany(Uint32Array.from(ids));
  }

  get(id: number): StoredPoint | null {
    const r = this.points.get(id);
    return r ? { id, tenant: r.t, metadata: r.m, vector: toFloat32(r.v) } : null;
  }

  /** The tenant holding `id`, or undefined. */
  tenantOf(id: number): string | undefined {
    return this.points.get(id)?.t;
  }

  /** Every point, read in one snapshot. */
  snapshot(): PointSnapshot {
    return this.root.transactionSync(() => {
      const n = this.count;
      const ids = new Uint32Array(n);
      const vectors = new Float32Array(n * this.dim);
      const tenants: string[] = new Array(n);
      const attributes: Array<Attributes | null> = new Array(n);
      let i = 0;
      for (const { key, value } of this.points.getRange()) {
        ids[i] = key;
        new Uint8Array(vectors.buffer, i * this.dim * 4, this.dim * 4).set(value.v);
        tenants[i] = value.t;
        attributes[i] = value.m;
        i++;
      }
      return { ids: ids.subarray(0, i), vectors: vectors.subarray(0, i * this.dim), tenants: tenants.slice(0, i), attributes: attributes.slice(0, i) };
    });
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

function toFloat32(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
