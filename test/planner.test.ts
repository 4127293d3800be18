import { describe, expect, it } from 'vitest';
import { RoaringBitmap32 } from 'roaring-wasm';
import { choosePlan, resolveScope, scopedEntryShare, type PlanInputs, type Scope } from '../src/index/scope.js';
import { AttributeIndex } from '../src/index/attributes.js';
import { parseFilter } from '../src/index/filter.js';
import { Tenant } from '../src/index/tenants.js';
import { createRng } from '../src/util/random.js';

/** A scope as resolveScope would give it, for the planner alone. */
function scope(count: number, blocks: number, cellCount = 0): Scope {
  return { runs: null, sections: false, bits: null, negate: false, slotLimit: 0, heads: null, headCount: 80_000, count, blocks, cellCount, cellIds: null, cellStarts: null };
}

// The shape of the 1M × 96 bench index: 16 lists of ~48 entries, 388-byte entries, 64-slot blocks.
const INPUTS: PlanInputs = { plan: 'auto', exactScanMax: 0, maxLists: 16, meanListLength: 48, liveCount: 1_000_000, entryBytes: 388, blockSlots: 64 };

describe('planner', () => {
  it('the scoped entry share grows with the scope and is 1 for everything', () => {
    let last = 0;
    for (const count of [1, 10, 1000, 10_000, 100_000, 500_000, 1_000_000]) {
      const share = scopedEntryShare(count, 1_000_000);
      expect(share).toBeGreaterThan(last);
      expect(share).toBeLessThanOrEqual(1);
      last = share;
    }
    expect(scopedEntryShare(1_000_000, 1_000_000)).toBe(1);
  });

  it('a filter alone: scattered 1% is probed, a few hundred matches are scanned exactly', () => {
    expect(choosePlan(scope(10_000, 9_000), INPUTS)).toBe('probe');
    expect(choosePlan(scope(300, 300), INPUTS)).toBe('exact');
    // The same 10,000 matches packed into few blocks are cheaper to scan than to probe for.
    expect(choosePlan(scope(10_000, 160), INPUTS)).toBe('exact');
  });

  it('exactScanMax is a threshold both ways, and forced plans are honoured', () => {
    expect(choosePlan(scope(300, 300), { ...INPUTS, exactScanMax: 100 })).toBe('probe');
    expect(choosePlan(scope(10_000, 9_000), { ...INPUTS, exactScanMax: 20_000 })).toBe('exact');
    expect(choosePlan(scope(10_000, 9_000), { ...INPUTS, plan: 'exact' })).toBe('exact');
    expect(choosePlan(scope(10, 10), { ...INPUTS, plan: 'probe' })).toBe('probe');
    expect(choosePlan(scope(10_000, 9_000), { ...INPUTS, plan: 'cells' })).toBe('probe'); // no cells without a tenant
  });

  it('a tenant: small ones exactly, fine-celled ones by cells, coarse ones by probing', () => {
    expect(choosePlan(scope(1000, 20, 30), INPUTS)).toBe('exact');
    expect(choosePlan(scope(10_000, 160, 300), INPUTS)).toBe('cells');
    expect(choosePlan(scope(100_000, 1600, 10), INPUTS)).toBe('probe');
  });

  it('a resolved scope counts the blocks an exact scan reads, and the allowed vectors exactly', () => {
    const n = 50_000, B = 64;
    const rng = createRng(5);
    const values = Array.from({ length: n }, () => rng.int(100));
    const built = AttributeIndex.build(values.map((v) => ({ v })), Uint32Array.from({ length: n }, (_, i) => i));
    const parts = new Map(built.bitmaps.map(([name, part, bytes]) => [`${name}/${part}`, bytes]));
    const attributes = AttributeIndex.open(built.records, {
      bitmap: (name, part) => {
        const bytes = parts.get(`${name}/${part}`);
        return bytes ? RoaringBitmap32.deserialize('portable', bytes) : null;
      },
      putBitmap: () => {
        throw new Error('read only');
      },
    });
    const live = RoaringBitmap32.fromRange(0, n);
    const tenant = new Tenant('t', Uint32Array.of(1000, 3000, 40_000, 40_100), 0, null, () => {
      throw new Error('not needed');
    });
    for (const [filter, t] of [[{ v: { $lt: 1 } }, null], [{ v: { $lt: 90 } }, null], [{ v: 7 }, tenant], [null, tenant]] as const) {
      const s = resolveScope({ tenant: t, filter: filter ? parseFilter(filter) : null, attributes, live, slotCount: n, headCount: 10, blockSlots: B });
      const allowed = (slot: number) =>
        (!t || (slot >= 1000 && slot < 3000) || (slot >= 40_000 && slot < 40_100)) &&
        (!filter || (typeof filter.v === 'object' ? values[slot] < filter.v.$lt : values[slot] === filter.v));
      let count = 0;
      const blocks = new Set<number>();
      for (let slot = 0; slot < n; slot++) {
        if (!allowed(slot)) continue;
        count++;
        blocks.add(Math.floor(slot / B));
      }
      expect(s.count).toBe(count);
      if (filter && !s.negate) expect(s.blocks).toBe(blocks.size);
      else expect(s.blocks).toBe(t ? new Set([...Array(n).keys()].filter((x) => (x >= 1000 && x < 3000) || (x >= 40_000 && x < 40_100)).map((x) => Math.floor(x / B))).size : Math.ceil(n / B));
    }
    live.dispose();
    attributes.dispose();
  });
});
