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
  /** 1 for each head whose list holds a tenant entry; null = every head. */
  heads: Uint8Array | null;
  /** Heads set in `heads` (the head count without a tenant). */
  headCount: number;
  /** Vectors the query may return: |tenant ∩ filter|. */
  count: number;
}

export interface ScopeSources {
  tenant: Tenant | null;
  filter: FilterNode | null;
  attributes: AttributeIndex;
  /** Every live slot (the universe without a tenant). */
  live: RoaringBitmap32;
  slotCount: number;
  headCount: number;
  /** Dense head flags of the tenant (cached by the caller). */
  tenantHeads: (t: Tenant) => Uint8Array;
  /** Allocate typed arrays in shared memory (batch search) or not. */
  shared: boolean;
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
      bits = src.shared ? new Uint32Array(new SharedArrayBuffer(words * 4)) : new Uint32Array(words);
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
    heads: t ? src.tenantHeads(t) : null,
    headCount: t ? t.heads.size : src.headCount,
    count,
  };
}

function setBits(bits: Uint32Array, b: RoaringBitmap32): void {
  const values = b.toUint32Array();
  for (let i = 0; i < values.length; i++) {
    const s = values[i];
    bits[s >>> 5] |= 1 << (s & 31);
  }
}

/** The planner: an exact scan of the allowed set when it is small, else a scoped probe. */
export function choosePlan(count: number, exactScanMax: number, maxLists: number, meanListLength: number, liveCount: number): 'exact' | 'probe' {
  const limit = exactScanMax > 0 ? exactScanMax : Math.sqrt(maxLists * Math.max(1, meanListLength) * liveCount);
  return count <= limit ? 'exact' : 'probe';
}
