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
  /**
   * Read only the tenant's sections of a posting list (two binary searches per run). False for a
   * tenant whose runs are many (inserts interleaved with other tenants'): whole lists are read and
   * `bits` (then always the allowed slots) does the selecting.
   */
  sections: boolean;
  /** Dense bitset over slots from the filter; null = no filter. */
  bits: Uint32Array | null;
  /** true: the set bits are the slots the filter excludes (used when it keeps most of the tenant). */
  negate: boolean;
  /**
   * Bitset over heads: set for each head whose list holds a tenant entry; null = every head (or not
   * needed: only the probe plan reads it, so the index fills it in when a tenant's search is planned
   * as a probe).
   */
  heads: Uint32Array | null;
  /** Heads set in `heads` (the head count without a tenant). */
  headCount: number;
  /** Vectors the query may return: |tenant ∩ filter|. */
  count: number;
  /** Slots the index had when the scope was resolved: later slots are outside it (their attributes were not seen). */
  slotLimit: number;
  /** Slot blocks an exact scan reads (blocks holding at least one allowed vector). */
  blocks: number;
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
  /** Slots per slot block (the exact scan's unit of reading). */
  blockSlots: number;
}

export function resolveScope(src: ScopeSources): Scope {
  const t = src.tenant;
  const own = t ? t.slotBitmap() : null;
  try {
    return scopeOf(src, own ?? src.live);
  } finally {
    own?.dispose();
  }
}

/** A tenant with more runs than this is selected by a bitset rather than by list sections. */
export const MAX_SECTION_RUNS = 32;

function scopeOf(src: ScopeSources, universe: RoaringBitmap32): Scope {
  const t = src.tenant;
  const fragmented = t !== null && t.runs.length > 2 * MAX_SECTION_RUNS;
  const sections = t !== null && !fragmented;
  let bits: Uint32Array | null = null;
  let negate = false;
  let count = universe.size;
  if (src.filter || fragmented) {
    const allowed = src.filter ? src.attributes.evaluate(src.filter, universe) : universe.clone();
    try {
      count = allowed.size;
      const words = Math.ceil(src.slotCount / 32) || 1;
      // Shared memory: a (cached) scope may go to batch-search workers.
      bits = new Uint32Array(new SharedArrayBuffer(words * 4));
      // Mark whichever side is smaller: the allowed slots, or the excluded ones (negate). Slots outside
      // the universe are excluded by the tenant's runs (or are not live, hence in no list or block).
      if (count <= universe.size - count || fragmented) setBits(bits, allowed);
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
  const B = Math.max(1, src.blockSlots);
  const runs = t ? t.runs : null;
  return {
    runs,
    sections,
    bits,
    negate,
    heads: null,
    headCount: src.headCount,
    count,
    slotLimit: src.slotCount,
    blocks: bits && !negate ? blocksWithBits(bits, src.slotCount, B) : runs ? blocksOfRuns(runs, B) : Math.ceil(src.slotCount / B),
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

/** Blocks of B slots holding at least one set bit. */
function blocksWithBits(bits: Uint32Array, slotCount: number, B: number): number {
  let n = 0;
  for (let blk = 0; blk * B < slotCount; blk++) {
    const lo = blk * B, hi = Math.min(slotCount, lo + B);
    for (let s = lo; s < hi; ) {
      const w = bits[s >>> 5];
      if (w === 0) {
        s = (s | 31) + 1;
        continue;
      }
      if ((w >>> (s & 31)) & 1) {
        n++;
        break;
      }
      s++;
    }
  }
  return n;
}

/** Blocks of B slots the runs [s0, e0, s1, e1, ...] touch. */
function blocksOfRuns(runs: Uint32Array, B: number): number {
  let n = 0, last = -1;
  for (let r = 0; r < runs.length; r += 2) {
    if (runs[r + 1] <= runs[r]) continue;
    const first = Math.max(Math.floor(runs[r] / B), last + 1);
    const end = Math.floor((runs[r + 1] - 1) / B);
    if (end >= first) n += end - first + 1;
    last = Math.max(last, end);
  }
  return n;
}

export type PlanChoice = 'exact' | 'cells' | 'probe';

export interface PlanInputs {
  /** SearchParams.plan: 'auto' or a forced plan. */
  plan: 'auto' | PlanChoice;
  exactScanMax: number;
  maxLists: number;
  meanListLength: number;
  liveCount: number;
  /** Bytes of one posting entry (slot + code). */
  entryBytes: number;
  /** Slots per slot block. */
  blockSlots: number;
}

/**
 * The share of its in-scope entries a scoped probe reads, relative to an unscoped search's
 * maxLists × mean list length: s^0.4 for a scope keeping a fraction s of the vectors (1% -> 0.16).
 * Fitted on the bench's 1% filters: √s gave recall@10 0.987 at maxLists 16 on synthetic 1M × 96
 * but 0.920 at maxLists 8 on fashion-mnist, whose vectors cluster; s^0.4 gives 0.985 there (s^⅓
 * 0.997 at 1.4× the lists). The allowed vectors near a query are sparse, so each one found rules out
 * more of the space: reading in-scope entries in full (share 1) would cost 1/s the lists.
 */
export function scopedEntryShare(count: number, liveCount: number): number {
  return Math.pow(Math.min(1, Math.max(count, 1) / Math.max(1, liveCount)), 0.4);
}

/** A read from LMDB costs about as much as copying this many bytes (lookup, view, call overhead). */
const READ_COST_BYTES = 8192;
/** Lists a probe reads over its estimate (maxLists / share): lists near queries run long, widening overshoots. */
const PROBE_OVERSHOOT = 2;

/**
 * The planner. E = maxLists × mean list length, the entries an unscoped search reads.
 *   - exact when the allowed set is at most exactScanMax; by default (0), for a tenant (it has
 *     coarse cells) when it is at most 2E, and for a filter alone when reading the slot blocks that
 *     hold allowed vectors costs less than the lists a probe would read (about 2 × maxLists / share,
 *     see scopedEntryShare), both counted as bytes copied plus a fixed cost per read;
 *   - cells for a tenant whose cells are no coarser than a posting list (count / cells ≤ mean list
 *     length): its own inverted lists, nearest first;
 *   - probe otherwise.
 * A forced plan is honoured when it can run (cells needs a tenant).
 */
export function choosePlan(scope: Scope, p: PlanInputs): PlanChoice {
  const hasCells = scope.cellCount > 0;
  if (p.plan === 'exact' || p.plan === 'probe') return p.plan;
  if (p.plan === 'cells') return hasCells ? 'cells' : 'probe';
  const E = p.maxLists * Math.max(1, p.meanListLength);
  let exact: boolean;
  if (p.exactScanMax > 0) exact = scope.count <= p.exactScanMax;
  else if (hasCells) exact = scope.count <= 2 * E;
  else {
    const exactCost = scope.blocks * (READ_COST_BYTES + p.blockSlots * p.entryBytes);
    const probeLists = (PROBE_OVERSHOOT * p.maxLists) / scopedEntryShare(scope.count, p.liveCount);
    exact = exactCost <= probeLists * (READ_COST_BYTES + Math.max(1, p.meanListLength) * p.entryBytes);
  }
  if (exact) return 'exact';
  return hasCells && scope.count / scope.cellCount <= Math.max(1, p.meanListLength) ? 'cells' : 'probe';
}
