/**
 * Tenants: every vector belongs to exactly one, named by a string. A tenant is its set of slots (a
 * roaring bitmap, one run per tenant after a build because the build numbers a tenant's vectors
 * consecutively, always in memory) plus details only some plans read — the heads whose lists hold
 * its vectors, its coarse cells — kept in the LMDB `tenants` db and loaded for the 64 most recently
 * searched tenants (cold tenants cost a few bytes of memory).
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import { createError } from '../errors.js';
import { LruCache } from '../util/lru.js';
import { toRuns } from './bitmaps.js';

/** The tenant of vectors built without a `tenants` option. */
export const DEFAULT_TENANT = 'default';
/** Longest tenant name, in UTF-16 code units. */
export const MAX_TENANT_NAME = 256;

export interface TenantInfo {
  name: string;
  /** Vectors the tenant holds. */
  count: number;
}

/** The persisted form of one tenant (msgpack). */
export interface TenantRecord {
  slots: Uint8Array;
  heads: Uint8Array;
  /** u32 cell ids then u32 cell starts (one more than the ids), little-endian. */
  cells?: Uint8Array;
}

/** The parts of a tenant only some plans read: loaded on demand, dropped when cold. */
export interface TenantDetails {
  /** Heads whose posting lists hold at least one of the tenant's vectors (the probe plan). */
  heads: RoaringBitmap32;
  /** Coarse cells holding the tenant's vectors, ascending (slot-layout.ts; the cells plan). */
  cellIds: Uint32Array;
  /** First slot of each cell's range, then the end (cellIds.length + 1 entries). */
  cellStarts: Uint32Array;
}

export class Tenant {
  private runsCache: Uint32Array | null = null;
  private loaded: TenantDetails | null;

  constructor(
    readonly name: string,
    /** Slots of the tenant's vectors. */
    readonly slots: RoaringBitmap32,
    /** Coarse cells the tenant occupies (known without loading the details). */
    readonly cellCount: number,
    details: TenantDetails | null,
    /** Reads the details back (from LMDB) after they were released. */
    private readonly load: () => TenantDetails,
  ) {
    this.loaded = details;
  }

  get count(): number {
    return this.slots.size;
  }

  /** The slots as sorted half-open runs [s0, e0, s1, e1, ...] (one run after a build). */
  get runs(): Uint32Array {
    if (!this.runsCache) this.runsCache = toRuns(this.slots);
    return this.runsCache;
  }

  get isLoaded(): boolean {
    return this.loaded !== null;
  }

  /** Heads bitmap and cell tables, loaded if needed. */
  details(): TenantDetails {
    this.loaded ??= this.load();
    return this.loaded;
  }

  /** Free the details (they are read again on the next use). */
  release(): void {
    this.loaded?.heads.dispose();
    this.loaded = null;
  }

  toRecord(): TenantRecord {
    const d = this.details();
    const cells = new Uint32Array(d.cellIds.length + d.cellStarts.length);
    cells.set(d.cellIds);
    cells.set(d.cellStarts, d.cellIds.length);
    return { slots: this.slots.serialize('portable'), heads: d.heads.serialize('portable'), cells: new Uint8Array(cells.buffer) };
  }

  dispose(): void {
    this.slots.dispose();
    this.release();
  }
}

/** Details from a record (heads bitmap and cell tables). */
export function detailsOf(name: string, rec: TenantRecord): TenantDetails {
  if (!rec || !(rec.heads instanceof Uint8Array)) throw createError('STRATA_INDEX_CORRUPT', `tenant record ${JSON.stringify(name)} is damaged`, 'tenants');
  let cellIds = new Uint32Array(0), cellStarts = new Uint32Array(0);
  if (rec.cells instanceof Uint8Array && rec.cells.byteLength >= 4 && rec.cells.byteLength % 4 === 0) {
    const all = new Uint32Array(rec.cells.byteLength / 4);
    new Uint8Array(all.buffer).set(rec.cells);
    const m = (all.length - 1) / 2;
    if (Number.isInteger(m)) [cellIds, cellStarts] = [all.slice(0, m), all.slice(m)];
  }
  return { heads: RoaringBitmap32.deserialize('portable', rec.heads), cellIds, cellStarts };
}

/** Cells in a record, without decoding it. */
function cellCountOf(rec: TenantRecord): number {
  return rec.cells instanceof Uint8Array && rec.cells.byteLength >= 4 ? Math.max(0, (rec.cells.byteLength / 4 - 1) / 2) : 0;
}

export function checkTenantName(name: unknown, field = 'tenant'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_TENANT_NAME) {
    throw createError('STRATA_INVALID_TENANT', `${field} must be a non-empty string of at most ${MAX_TENANT_NAME} characters, got ${JSON.stringify(name) ?? String(name)}`, field);
  }
  return name;
}

export class TenantCatalog {
  private readonly byName = new Map<string, Tenant>();

  get size(): number {
    return this.byName.size;
  }

  get(name: string): Tenant | undefined {
    return this.byName.get(name);
  }

  /** The tenant, or STRATA_UNKNOWN_TENANT (the message names only the tenant asked for). */
  require(name: unknown, field = 'tenant'): Tenant {
    const t = this.byName.get(checkTenantName(name, field));
    if (!t) throw createError('STRATA_UNKNOWN_TENANT', `${field} ${JSON.stringify(name)} does not exist`, field);
    return t;
  }

  add(t: Tenant): void {
    this.byName.set(t.name, t);
  }

  /** Most tenants whose details stay loaded; the least recently used beyond this are released. */
  static readonly HOT = 64;
  private readonly hot = new LruCache<string, Tenant>(TenantCatalog.HOT, (_, t) => t.release());

  /** The tenant's details, marking it recently used (and releasing the coldest beyond HOT). */
  details(t: Tenant): TenantDetails {
    this.hot.set(t.name, t);
    return t.details();
  }

  remove(name: string): void {
    const t = this.byName.get(name);
    if (t) {
      this.byName.delete(name);
      this.hot.delete(name);
      t.dispose();
    }
  }

  list(): TenantInfo[] {
    return [...this.byName.values()].map((t) => ({ name: t.name, count: t.count })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A tenant from its record: slots in memory, details read again through `load` when needed. */
  static restore(name: string, rec: TenantRecord, load: () => TenantRecord | undefined): Tenant {
    if (!rec || !(rec.slots instanceof Uint8Array) || !(rec.heads instanceof Uint8Array)) {
      throw createError('STRATA_INDEX_CORRUPT', `tenant record ${JSON.stringify(name)} is damaged`, 'tenants');
    }
    return new Tenant(name, RoaringBitmap32.deserialize('portable', rec.slots), cellCountOf(rec), null, () => {
      const again = load();
      if (!again) throw createError('STRATA_INDEX_CORRUPT', `tenant record ${JSON.stringify(name)} is missing`, 'tenants');
      return detailsOf(name, again);
    });
  }

  dispose(): void {
    for (const t of this.byName.values()) t.dispose();
    this.byName.clear();
    this.hot.clear();
  }
}
