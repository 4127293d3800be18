/**
 * Deleted slots (tombstones). A delete marks its slot here and in the slot map; its posting entries
 * and block row stay until a split, merge or compaction rewrites them, and every search skips them
 * by testing this bitset. Slots are never reused, so a bit once set stays set. Persisted as 8 KiB
 * chunks in the `dead` db; the bitset is one flat Uint32Array over all slots (slotCount / 8 bytes).
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import type { IndexStore } from '../storage/index-store.js';
import { DEAD_CHUNK } from '../storage/index-records.js';

const WORDS_PER_CHUNK = DEAD_CHUNK / 32;

export class Tombstones {
  /** Bit s set = slot s deleted. May be longer than needed; never shorter than the slots seen. */
  bits: Uint32Array;
  /** Deleted slots. */
  count = 0;
  /** Chunks changed since the last persist. */
  private readonly dirty = new Set<number>();

  private constructor(words: number) {
    this.bits = new Uint32Array(Math.max(1, words));
  }

  /** The tombstones of an index with `slotCount` slots, from the `dead` db. */
  static load(store: IndexStore, slotCount: number): Tombstones {
    const t = new Tombstones(Math.ceil(slotCount / 32));
    for (let c = 0; c * DEAD_CHUNK < slotCount; c++) {
      const chunk = store.dead.get(c);
      if (!chunk) continue;
      t.ensure((c + 1) * DEAD_CHUNK);
      t.bits.set(chunk, c * WORDS_PER_CHUNK);
    }
    for (let i = 0; i < t.bits.length; i++) t.count += popcount(t.bits[i]);
    return t;
  }

  /** The deleted slots as a new roaring bitmap (the caller disposes it). */
  toBitmap(): RoaringBitmap32 {
    const slots: number[] = [];
    for (let w = 0; w < this.bits.length; w++) {
      let x = this.bits[w];
      while (x !== 0) {
        const low = x & -x;
        slots.push(w * 32 + 31 - Math.clz32(low));
        x ^= low;
      }
    }
    return RoaringBitmap32.from(Uint32Array.from(slots));
  }

  has(slot: number): boolean {
    return ((this.bits[slot >>> 5] >>> (slot & 31)) & 1) === 1;
  }

  /** Mark a slot deleted; false if it already was. */
  add(slot: number): boolean {
    this.ensure(slot + 1);
    const w = slot >>> 5, m = 1 << (slot & 31);
    if (this.bits[w] & m) return false;
    this.bits[w] |= m;
    this.count++;
    this.dirty.add(Math.floor(slot / DEAD_CHUNK));
    return true;
  }

  /** Undo `add` (a transaction that marked the slot rolled back). */
  undo(slot: number): void {
    const w = slot >>> 5, m = 1 << (slot & 31);
    if (w < this.bits.length && this.bits[w] & m) {
      this.bits[w] &= ~m;
      this.count--;
    }
  }

  /** Write the changed chunks (inside the caller's write transaction). */
  persist(store: IndexStore): void {
    for (const c of this.dirty) {
      this.ensure((c + 1) * DEAD_CHUNK);
      store.dead.put(c, this.bits.subarray(c * WORDS_PER_CHUNK, (c + 1) * WORDS_PER_CHUNK));
    }
    this.dirty.clear();
  }

  /** Forget unpersisted changes' chunk list (after a rollback, the bits were undone one by one). */
  clearDirty(): void {
    this.dirty.clear();
  }

  /** Grow to hold `slots` slots (capacity doubles, so appends stay amortised O(1)). */
  private ensure(slots: number): void {
    const words = Math.ceil(slots / 32);
    if (words <= this.bits.length) return;
    const next = new Uint32Array(Math.max(words, this.bits.length * 2));
    next.set(this.bits);
    this.bits = next;
  }
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
