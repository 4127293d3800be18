/**
 * A collection's points as clients sent them, in one LMDB environment at <collection>/points.mdb
 * (beside the index generations). It answers get-by-id with the metadata and vector, it is what a
 * rebuild re-clusters from (the index itself may hold only compressed or projected vectors), and it
 * keeps each tenant's id space apart from the others'.
 *
 * Ids. A client's point id is scoped to its tenant: tenant A's point 4 and tenant B's point 4 are two
 * points, and nothing a tenant writes or reads depends on the ids other tenants use. The index holds
 * an internal uint32 label per point, allocated here:
 *
 *   points  label (uint32)        -> { t: tenant, m: metadata | null, v: float32 bytes }
 *   ids     `${tenant}\0${id}`    -> label
 *   labels  label (uint32)        -> `${tenant}\0${id}`   (search hits back to client ids)
 *   meta    'format' 2, 'nextLabel', 'generation'
 *
 * Format 1 keyed points by the client's id across tenants, and its index generations hold metadata
 * attributes under the names clients sent; format 2 indexes them in each tenant's namespace
 * (tenant-attributes.ts). A format-1 store is migrated at the writer's open (label = the old id) and
 * the writer then rebuilds the index generation from the points.
 *
 * Writes are synchronous LMDB commits made by the ingest thread BEFORE the index write they belong
 * to, so every point the index holds is here (a crash in between leaves an unacknowledged point here
 * that the client re-sends). The environment also records which index generation is current.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment } from '../storage/lmdb.js';
import { createError } from '../errors.js';
import type { Attributes } from '../index/filter.js';
import { LruCache } from '../util/lru.js';

export const POINTS_FILE = 'points.mdb';
/**
 * Labels whose owner (tenant, id) a handle remembers: search hits map back to client ids without an
 * LMDB read each. A label is never reused, so a remembered owner is never wrong; a deleted point's
 * label leaves the index in the same acknowledged write, so no search after it returns the label.
 */
const OWNER_CACHE = 200_000;
export const POINTS_FORMAT = 2;

interface PointRecord {
  /** tenant */
  t: string;
  /** metadata (attributes), null when none */
  m: Attributes | null;
  /** the vector, float32 little-endian bytes */
  v: Uint8Array;
}

export interface StoredPoint {
  /** The client's id (in its tenant). */
  id: number;
  tenant: string;
  metadata: Attributes | null;
  vector: Float32Array;
}

/** Every point at one moment, in the shape SpannIndex.build takes (ids are internal labels). */
export interface PointSnapshot {
  ids: Uint32Array;
  vectors: Float32Array;
  tenants: string[];
  attributes: Array<Attributes | null>;
}

const idKey = (tenant: string, id: number): string => `${tenant}\0${id}`;

export class PointStore {
  /** This open migrated an older format: the index generations on disk hold attributes outside the tenants' namespaces and must be rebuilt. */
  migrated = false;
  /** label -> owner, remembered (OWNER_CACHE). */
  private readonly owners = new LruCache<number, { tenant: string; id: number }>(OWNER_CACHE);

  private constructor(
    private readonly path: string,
    private readonly root: RootDatabase,
    private readonly points: Database<PointRecord, number>,
    private readonly ids: Database<number, string>,
    private readonly labels: Database<string, number>,
    private readonly meta: Database<number, string>,
    readonly dim: number,
  ) {}

  static open(dir: string, dim: number, options: { readOnly?: boolean; create?: boolean } = {}): PointStore {
    const path = join(dir, POINTS_FILE);
    const fresh = !existsSync(path);
    if (fresh) {
      if (!options.create) throw createError('STRATA_INDEX_CORRUPT', `the collection folder ${dir} has no ${POINTS_FILE}`, 'dataDir');
      mkdirSync(dir, { recursive: true });
    }
    const readOnly = options.readOnly ?? false;
    const root = openEnvironment(path, { store: 'points', readOnly, create: true, maxDbs: 6 });
    const store = new PointStore(
      path,
      root,
      root.openDB<PointRecord, number>({ name: 'points', keyEncoding: 'uint32' }),
      root.openDB<number, string>({ name: 'ids' }),
      root.openDB<string, number>({ name: 'labels', keyEncoding: 'uint32' }),
      root.openDB<number, string>({ name: 'meta' }),
      dim,
    );
    try {
      const format = store.meta.get('format') ?? (fresh ? POINTS_FORMAT : 1);
      if (format > POINTS_FORMAT) throw createError('STRATA_FORMAT_VERSION', `${path} has format ${format}; this build reads format ${POINTS_FORMAT}`, 'dataDir');
      if (format < POINTS_FORMAT || fresh) {
        if (readOnly) throw createError('STRATA_FORMAT_VERSION', `${path} has format ${format}: open the collection for writing first to migrate it to ${POINTS_FORMAT}`, 'dataDir');
        store.migrateFormat1();
        store.migrated = !fresh;
      }
    } catch (err) {
      void root.close();
      throw err;
    }
    return store;
  }

  /** Format 1 -> 2: the old id becomes the label and is registered in its tenant's id space. */
  private migrateFormat1(): void {
    this.root.transactionSync(() => {
      let next = 0;
      for (const { key, value } of this.points.getRange()) {
        this.ids.putSync(idKey(value.t, key), key);
        this.labels.putSync(key, idKey(value.t, key));
        next = key + 1;
      }
      this.meta.putSync('nextLabel', next);
      this.meta.putSync('format', POINTS_FORMAT);
    });
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

  /**
   * Insert or replace points (ids in each point's tenant); durable once it returns. `vectors` is
   * ids.length × dim. Returns the internal label of each point (new ones allocated).
   */
  putMany(ids: Uint32Array, vectors: Float32Array, tenants: string[], metadata: Array<Attributes | null>): Uint32Array {
    const dim = this.dim;
    const labels = new Uint32Array(ids.length);
    this.root.transactionSync(() => {
      let next = this.meta.get('nextLabel') ?? 0;
      for (let i = 0; i < ids.length; i++) {
        const key = idKey(tenants[i], ids[i]);
        let label = this.ids.get(key);
        if (label === undefined) {
          if (next > 0xfffffffe) throw createError('STRATA_LIMIT_EXCEEDED', 'the collection has used every internal point label (2^32 - 1): rebuild it into a new collection', 'points');
          label = next++;
          this.ids.putSync(key, label);
          this.labels.putSync(label, key);
        }
        labels[i] = label;
        const v = new Uint8Array(vectors.buffer, vectors.byteOffset + i * dim * 4, dim * 4);
        this.points.putSync(label, { t: tenants[i], m: metadata[i] ?? null, v });
      }
      this.meta.putSync('nextLabel', next);
    });
    return labels;
  }

  /** Remove points of one tenant by id; durable once it returns. Returns the labels that existed. */
  removeMany(tenant: string, ids: Uint32Array): Uint32Array {
    const removed: number[] = [];
    this.root.transactionSync(() => {
      for (const id of ids) {
        const key = idKey(tenant, id);
        const label = this.ids.get(key);
        if (label === undefined) continue;
        this.ids.removeSync(key);
        this.labels.removeSync(label);
        this.points.removeSync(label);
        removed.push(label);
      }
    });
    return Uint32Array.from(removed);
  }

  /** Remove every point of `tenant` (a range of its id space); durable once it returns. */
  removeTenant(tenant: string): number {
    let removed = 0;
    this.root.transactionSync(() => {
      for (const { key, value: label } of this.ids.getRange({ start: `${tenant}\0`, end: `${tenant}\u0001` })) {
        this.ids.removeSync(key);
        this.labels.removeSync(label);
        this.points.removeSync(label);
        removed++;
      }
    });
    return removed;
  }

  /** The internal label (the index's id) of a tenant's point, or undefined. */
  label(tenant: string, id: number): number | undefined {
    return this.ids.get(idKey(tenant, id));
  }

  /** A tenant's point by its id, or null. */
  get(tenant: string, id: number): StoredPoint | null {
    const label = this.ids.get(idKey(tenant, id));
    const r = label === undefined ? undefined : this.points.get(label);
    return r ? { id, tenant: r.t, metadata: r.m, vector: toFloat32(r.v) } : null;
  }

  /**
   * One page of points without their vectors, in key order (tenant name, then the id's decimal
   * text): a tenant's only, or every tenant's. `after` is the previous page's `next` (the last key it
   * returned); `next` is set when more may follow.
   */
  page(tenant: string | undefined, after: string | undefined, limit: number): { points: Array<{ id: number; tenant: string; metadata: Attributes | null }>; next?: string } {
    const range = tenant === undefined ? {} : { start: `${tenant}\0`, end: `${tenant}\u0001` };
    const start = after !== undefined && (tenant === undefined || after.startsWith(`${tenant}\0`)) ? after : range.start;
    const points: Array<{ id: number; tenant: string; metadata: Attributes | null }> = [];
    let last: string | undefined;
    for (const { key, value: label } of this.ids.getRange({ ...range, ...(start !== undefined ? { start } : {}) })) {
      if (key === after) continue;
      const r = this.points.get(label);
      if (!r) continue;
      if (points.length === limit) return { points, next: last };
      const cut = key.lastIndexOf('\0');
      points.push({ id: Number(key.slice(cut + 1)), tenant: r.t, metadata: r.m });
      last = key;
    }
    return { points };
  }

  /** The tenant and client id behind an internal label (a search hit), or undefined once deleted. */
  owner(label: number): { tenant: string; id: number } | undefined {
    const cached = this.owners.get(label);
    if (cached) return cached;
    const key = this.labels.get(label);
    if (key === undefined) return undefined;
    const cut = key.lastIndexOf('\0');
    const owner = { tenant: key.slice(0, cut), id: Number(key.slice(cut + 1)) };
    this.owners.set(label, owner);
    return owner;
  }

  /** Every point at one moment (labels as ids). */
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
