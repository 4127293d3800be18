/** Helpers over roaring bitmaps shared by tenants and attribute indexes. */
import type { RoaringBitmap32 } from 'roaring-wasm';

/** Run-length encode where it pays and release spare capacity; returns the same bitmap. */
export function compact(b: RoaringBitmap32): RoaringBitmap32 {
  b.runOptimize();
  b.shrinkToFit();
  return b;
}

/** Sorted half-open runs [s0, e0, s1, e1, ...] of a bitmap. */
export function toRuns(b: RoaringBitmap32): Uint32Array {
  const values = b.toUint32Array();
  const runs: number[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i + 1;
    while (j < values.length && values[j] === values[j - 1] + 1) j++;
    runs.push(values[i], values[j - 1] + 1);
    i = j;
  }
  return Uint32Array.from(runs);
}
