/**
 * Tenants: every vector belongs to exactly one, named by a string. A tenant in memory is its slots as
 * sorted runs (one run after a build, which numbers a tenant's vectors consecutively: a few bytes per
 * tenant) and its counts; its details — the heads whose lists hold its vectors, its coarse cells —
 * live in the LMDB `tenantDetails` db and are loaded for the 64 most recently searched tenants.
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import { createError } from '../errors.js';
import { LruCache } from '../util/lru.js';
import { addRuns } from './bitmaps.js';
import type { TenantRecord, TenantDetailsRecord } from '../storage/records.js';
export type { TenantRecord, TenantDetailsRecord } from '../storage/records.js';

/** The tenant of vectors built without a `tenants` option. */
export const DEFAULT_TENANT = 'default';
/** Longest tenant name, in UTF-16 code units. */
export const MAX_TENANT_NAME = 256;

export interface TenantInfo {
  name: string;
  /** Vectors the tenant holds. */
  count: number;
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
  private loaded: TenantDetails | null;
  /** Live vectors the tenant holds (its runs may also cover deleted slots). */
  readonly count: number;

  constructor(
    readonly name: string,
    /** The tenant's slots as sorted half-open runs [s0, e0, s1, e1, ...]. */
    readonly runs: Uint32Array,
    /** Coarse cells the tenant occupies (known without loading the details). */
    readonly cellCount: number,
    details: TenantDetails | null,
    /** Reads the details back (from LMDB) after they were released. */
    private readonly load: () => TenantDetails,
    /** Live vectors; default: every slot of the runs. */
    count?: number,
  ) {
    this.loaded = details;
    let n = 0;
    for (let r = 0; r < runs.length; r += 2) n += runs[r + 1] - runs[r];
    this.count = count ?? n;
  }

  /** The slots as a new roaring bitmap (the caller disposes it). */
  slotBitmap(): RoaringBitmap32 {
    return addRuns(new RoaringBitmap32(), this.runs);
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
    return { runs: new Uint8Array(this.runs.buffer.slice(this.runs.byteOffset, this.runs.byteOffset + this.runs.byteLength)), cellCount: this.cellCount };
  }

  detailsRecord(): TenantDetailsRecord {
    return detailsRecordOf(this.details());
  }

  dispose(): void {
    this.release();
  }
}

/** The persisted form of a tenant's details. */
export function detailsRecordOf(d: TenantDetails): TenantDetailsRecord {
  const cells = new Uint32Array(d.cellIds.length + d.cellStarts.length);
  cells.set(d.cellIds);
  cells.set(d.cellStarts, d.cellIds.length);
  return { heads: d.heads.serialize('portable'), cells: new Uint8Array(cells.buffer) };
}

/** Details from their record (heads bitmap and cell tables). */
export function detailsOf(name: string, rec: TenantDetailsRecord | undefined): TenantDetails {
  if (!rec || !(rec.heads instanceof Uint8Array) || !(rec.cells instanceof Uint8Array) || rec.cells.byteLength % 4 !== 0) {
    throw createError('STRATA_INDEX_CORRUPT', `details of tenant ${JSON.stringify(name)} are missing or damaged`, 'tenantDetails');
  }
  const all = u32s(rec.cells);
  const m = (all.length - 1) / 2;
  const [cellIds, cellStarts] = Number.isInteger(m) && m >= 0 ? [all.slice(0, m), all.slice(m)] : [new Uint32Array(0), new Uint32Array(0)];
  return { heads: RoaringBitmap32.deserialize('portable', rec.heads), cellIds, cellStarts };
}

/** A little-endian u32 array from bytes (copied: the bytes may view a reused read buffer). */
function u32s(bytes: Uint8Array): Uint32Array {
  const out = new Uint32Array(bytes.byteLength >>> 2);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
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

  /** Every tenant (in no particular order). */
  all(): IterableIterator<Tenant> {
    return this.byName.values();
  }

  /** Put `t` in place of the tenant of the same name (its loaded details, if any, are released). */
  replace(t: Tenant): void {
    const old = this.byName.get(t.name);
    if (old && old !== t) {
      this.hot.delete(t.name);
      old.dispose();
    }
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

  /**
   * A tenant from its record: runs in memory, details read through `load` when needed. With
   * `live`, its count is its runs' live slots (deleted slots stay inside runs).
   */
  static restore(name: string, rec: TenantRecord, load: () => TenantDetailsRecord | undefined, live?: RoaringBitmap32): Tenant {
    const runs = runsOf(name, rec);
    let count: number | undefined;
    if (live) {
      count = 0;
      for (let r = 0; r < runs.length; r += 2) count += live.rangeCardinality(runs[r], runs[r + 1]);
    }
    return new Tenant(name, runs, rec.cellCount, null, () => detailsOf(name, load()), count);
  }

  dispose(): void {
    for (const t of this.byName.values()) t.dispose();
    this.byName.clear();
    this.hot.clear();
  }
}

/** A tenant record's slot runs, checked (STRATA_INDEX_CORRUPT when damaged). */
export function runsOf(name: string, rec: TenantRecord): Uint32Array {
  const runs = rec && rec.runs instanceof Uint8Array && rec.runs.byteLength % 8 === 0 ? u32s(rec.runs) : null;
  if (!runs || !Number.isInteger(rec.cellCount) || rec.cellCount < 0 || !sortedRuns(runs)) {
    throw createError('STRATA_INDEX_CORRUPT', `tenant record ${JSON.stringify(name)} is damaged`, 'tenants');
  }
  return runs;
}

/** Whether runs are non-empty, ascending and disjoint. */
function sortedRuns(runs: Uint32Array): boolean {
  for (let r = 0; r < runs.length; r += 2) if (runs[r + 1] <= runs[r] || (r > 0 && runs[r] < runs[r - 1])) return false;
  return true;
}
