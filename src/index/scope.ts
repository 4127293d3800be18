/**
 * What one scoped query may read, in the flat form the searcher tests per entry: the tenant's slot runs,
 * the filter as a dense bitset over slots, the tenant's heads as a dense 0/1 array, and the exact
 * number of allowed vectors (from the roaring bitmaps, before any vector is read). Plain typed arrays,
 * so a batch search shares one Scope with every worker thread.
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import type { AttributeIndex } from './attributes.js';
import type { FilterNode } from './filter.js';
import type { Tenant } from './tenants.js';

export interface Scope {
  /** Sorted half-open slot runs [s0, e0, s1, e1, ...] of the tenant; null = every slot. */
  runs: Uint32Array | null;
  /** Dense bitset over slots from the filter; null = no filter. */
  bits: Uint32Array | null;
  /** true: the set bits are the slots the filter excludes (used when it keeps most of the tenant). */
  negate: boolean;
  /**
   * 1 for each head whose list holds a tenant entry; null = every head (or not needed: only the probe
   * plan reads it, so the index fills it in when a tenant's search is planned as a probe).
   */
  heads: Uint8Array | null;
  /** Heads set in `heads` (the head count without a tenant). */
  headCount: number;
  /** Vectors the query may return: |tenant ∩ filter|. */
  count: number;
  /** Coarse cells the tenant occupies (0 without a tenant). */
  cellCount: number;
  /** The tenant's cells and their slot ranges (slot-layout.ts): filled in when the plan is `cells`. */
  cellIds: Uint32Array | null;
  cellStarts: Uint32Array | null;
}

export interface ScopeSources {
  tenant: Tenant | null;
  filter: FilterNode | null;
  attributes: AttributeIndex;
  /** Every live slot (the universe without a tenant). */
  live: RoaringBitmap32;
  slotCount: number;
  headCount: number;
}

export function resolveScope(src: ScopeSources): Scope {
  const t = src.tenant;
  const universe = t ? t.slots : src.live;
  let bits: Uint32Array | null = null;
  let negate = false;
  let count = universe.size;
  if (src.filter) {
    const allowed = src.attributes.evaluate(src.filter, universe);
    try {
      count = allowed.size;
      const words = Math.ceil(src.slotCount / 32) || 1;
      // Shared memory: a (cached) scope may go to batch-search workers.
      bits = new Uint32Array(new SharedArrayBuffer(words * 4));
      // Mark whichever side is smaller: the allowed slots, or the excluded ones (negate). Slots outside
      // the universe are excluded by the tenant's runs (or are not live, hence in no list or block).
      if (count <= universe.size - count) setBits(bits, allowed);
      else {
        const denied = RoaringBitmap32.andNot(universe, allowed);
        setBits(bits, denied);
        denied.dispose();
        negate = true;
      }
    } finally {
      allowed.dispose();
    }
  }
  return {
    runs: t ? t.runs : null,
    bits,
    negate,
    heads: null,
    headCount: src.headCount,
    count,
    cellCount: t ? t.cellCount : 0,
    cellIds: null,
    cellStarts: null,
  };
}

function setBits(bits: Uint32Array, b: RoaringBitmap32): void {
  const values = b.toUint32Array();
  for (let i = 0; i < values.length; i++) {
    const s = values[i];
    bits[s >>> 5] |= 1 << (s & 31);
  }
}

export type PlanChoice = 'exact' | 'cells' | 'probe';

export interface PlanInputs {
  /** SearchParams.plan: 'auto' or a forced plan. */
  plan: 'auto' | PlanChoice;
  exactScanMax: number;
  maxLists: number;
  meanListLength: number;
  liveCount: number;
}

/**
 * The planner. In-scope entries an unscoped search would read: maxLists × mean list length (E).
 *   - exact when the allowed set is at most exactScanMax (auto: 2E for a tenant, whose cells give
 *     a cheaper way in; √(maxLists × mean list length × vectors) for a filter alone, where an exact
 *     scan reads no more than a probe needing 1/selectivity more lists);
 *   - cells for a tenant whose cells are no coarser than a posting list (count / cells ≤ mean list
 *     length): its own inverted lists, nearest first;
 *   - probe otherwise (large tenants and broad filters: the shared heads, tenant sections only).
 * A forced plan is honoured when it can run (cells needs a tenant).
 */
export function choosePlan(scope: Scope, p: PlanInputs): PlanChoice {
  const hasCells = scope.cellCount > 0;
  if (p.plan === 'exact' || p.plan === 'probe') return p.plan;
  if (p.plan === 'cells') return hasCells ? 'cells' : 'probe';
  const E = p.maxLists * Math.max(1, p.meanListLength);
  const limit = p.exactScanMax > 0 ? p.exactScanMax : hasCells ? 2 * E : Math.sqrt(E * p.liveCount);
  if (scope.count <= limit) return 'exact';
  if (hasCells && scope.count / scope.cellCount <= Math.max(1, p.meanListLength)) return 'cells';
  return 'probe';
}
