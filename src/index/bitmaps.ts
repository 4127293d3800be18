/** Helpers over roaring bitmaps shared by tenants, the scope and attribute indexes. */
import type { RoaringBitmap32 } from 'roaring-wasm';

/** Run-length encode where it pays and release spare capacity; returns the same bitmap. */
export function compact(b: RoaringBitmap32): RoaringBitmap32 {
  b.runOptimize();
  b.shrinkToFit();
  return b;
}

/** Add sorted half-open runs [s0, e0, s1, e1, ...] to a bitmap; returns it. */
export function addRuns(b: RoaringBitmap32, runs: Uint32Array): RoaringBitmap32 {
  for (let r = 0; r < runs.length; r += 2) b.addRange(runs[r], runs[r + 1]);
  return b;
}

/** The bitmaps of one attribute, stored apart (LMDB `attrBitmaps`): part = value number or 'all'. */
export interface BitmapParts {
  read(part: number | 'all'): RoaringBitmap32 | null;
  write(part: number | 'all', bytes: Uint8Array | null): void;
}

/**
 * Remove `slots` from parts 0..counts.length-1, rewriting (or, once empty, deleting) each part that
 * changed and updating its count.
 */
export function removeFromParts(parts: BitmapParts, counts: Uint32Array, slots: RoaringBitmap32): void {
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    const part = parts.read(i);
    if (!part) continue;
    const before = part.size;
    part.andNotInPlace(slots);
    if (part.size !== before) {
      counts[i] = part.size;
      parts.write(i, part.size > 0 ? part.serialize('portable') : null);
    }
    part.dispose();
  }
}
