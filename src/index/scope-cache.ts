/**
 * Scopes of scoped searches, cached: a (tenant, filter) resolved once into the typed arrays the
 * searcher reads (scope.ts) and kept for the next searches with the same scope, plus the head bitsets
 * of recently probed tenants. Any change to tenants, attributes or live slots invalidates them
 * (`clear`, or `forgetTenant` for one deleted tenant).
 */
import { LruCache } from '../util/lru.js';
import type { AttributeIndex } from './attributes.js';
import { parseFilter } from './filter.js';
import type { SearchParams } from './options.js';
import { choosePlan, type PlanChoice, resolveScope, type Scope } from './scope.js';
import type { Tenant, TenantCatalog } from './tenants.js';
import type { IndexMeta } from '../storage/records.js';
import type { RoaringBitmap32 } from 'roaring-wasm';

/** Tenants whose dense head flags are kept between searches. */
const HEAD_FLAG_CACHE = 64;
/** Resolved (tenant, filter) scopes kept between searches. */
const SCOPE_CACHE = 16;

/** What planning reads of the open index. */
export interface ScopeSources {
  tenants: TenantCatalog;
  attrs: AttributeIndex;
  live: RoaringBitmap32;
  meta: IndexMeta;
  /** Bytes of one posting entry (slot + code). */
  entryBytes: number;
}

export class ScopeCache {
  private readonly headFlags = new LruCache<string, Uint32Array>(HEAD_FLAG_CACHE);
  private readonly scopes = new LruCache<string, Scope>(SCOPE_CACHE);

  /** The scope of a search's tenant and filter (null: neither) and the plan chosen for it. */
  plan(options: { tenant?: string; filter?: unknown } | undefined, p: SearchParams, src: ScopeSources): { scope: Scope; plan: PlanChoice } | null {
    if (!options || (options.tenant === undefined && options.filter === undefined)) return null;
    const tenant = options.tenant === undefined ? null : src.tenants.require(options.tenant, 'tenant');
    const filter = options.filter === undefined ? null : parseFilter(options.filter, 'filter');
    const key = `${tenant ? tenant.name : ''}\u0000${filter ? JSON.stringify(filter) : ''}`;
    const m = src.meta;
    let scope = this.scopes.get(key);
    if (!scope) {
      scope = resolveScope({ tenant, filter, attributes: src.attrs, live: src.live, slotCount: m.slotCount, headCount: m.headCount, blockSlots: m.blockSlots });
      this.scopes.set(key, scope);
    }
    const meanListLength = m.liveHeads > 0 ? m.postingEntries / m.liveHeads : 1;
    const plan = choosePlan(scope, { plan: p.plan, exactScanMax: p.exactScanMax, maxLists: p.maxLists, meanListLength, liveCount: m.count, entryBytes: src.entryBytes, blockSlots: m.blockSlots });
    if (tenant && plan === 'probe' && !scope.heads) {
      scope.heads = this.tenantHeadFlags(tenant, src);
      scope.headCount = src.tenants.details(tenant).heads.size;
    }
    if (tenant && plan === 'cells' && !scope.cellIds) {
      const d = src.tenants.details(tenant);
      scope.cellIds = d.cellIds;
      scope.cellStarts = d.cellStarts;
    }
    return { scope, plan };
  }

  /** Bitset of the heads holding a tenant's entries (a few recent tenants are cached). */
  private tenantHeadFlags(t: Tenant, src: ScopeSources): Uint32Array {
    let flags = this.headFlags.get(t.name);
    if (flags) return flags;
    // Shared memory: the scope holding it may go to batch-search workers.
    flags = new Uint32Array(new SharedArrayBuffer(4 * Math.max(1, Math.ceil(src.meta.headCount / 32))));
    const heads = src.tenants.details(t).heads.toUint32Array();
    for (let i = 0; i < heads.length; i++) flags[heads[i] >>> 5] |= 1 << (heads[i] & 31);
    this.headFlags.set(t.name, flags);
    return flags;
  }

  /** Everything cached describes an older state. */
  clear(): void {
    this.scopes.clear();
    this.headFlags.clear();
  }

  /** Only scopes changed (a write that kept every tenant's heads). */
  clearScopes(): void {
    this.scopes.clear();
  }

  /** A tenant was deleted. */
  forgetTenant(name: string): void {
    this.headFlags.delete(name);
    this.scopes.clear();
  }
}
