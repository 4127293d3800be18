/**
 * Stage 3b: turn per-vector replica choices into per-head posting lists under the length cap.
 *
 * Lists are ordered by distance to their head. An over-long list first sheds its farthest entries
 * whose vector has another replica elsewhere; only if it is still too long does it shed sole copies,
 * which become orphans that the caller re-homes in the nearest head with room. So every vector ends
 * in at least one list, and lists stay within the cap unless no head near a vector has room.
 */
import { NO_ID } from './topk.js';

export interface PostingLayout {
  /** lists[h] = rows in head h's list, nearest first. */
  lists: Uint32Array[];
  /** Rows that lost every replica to the cap and must be re-homed. */
  orphans: number[];
  /** Replica entries removed by the cap. */
  trimmed: number;
}

export function layoutPostings(
  assignHeads: Uint32Array,
  assignDist: Float32Array,
  n: number,
  replicas: number,
  headCount: number,
  limit: number,
): PostingLayout {
  const counts = new Uint32Array(headCount + 1);
  const copies = new Uint16Array(n);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < replicas; j++) {
      const h = assignHeads[r * replicas + j];
      if (h === NO_ID) break;
      counts[h + 1]++;
      copies[r]++;
    }
  }
  for (let h = 0; h < headCount; h++) counts[h + 1] += counts[h];
  const offsets = counts; // prefix sums: list h is [offsets[h], offsets[h+1])
  const rows = new Uint32Array(offsets[headCount]);
  const dists = new Float32Array(offsets[headCount]);
  const fill = offsets.slice(0, headCount);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < replicas; j++) {
      const h = assignHeads[r * replicas + j];
      if (h === NO_ID) break;
      const p = fill[h]++;
      rows[p] = r;
      dists[p] = assignDist[r * replicas + j];
    }
  }

  const lists: Uint32Array[] = new Array(headCount);
  let trimmed = 0;
  const overfull: number[] = [];
  for (let h = 0; h < headCount; h++) {
    const s = offsets[h], e = offsets[h + 1];
    const order = Array.from({ length: e - s }, (_, i) => s + i);
    order.sort((a, b) => dists[a] - dists[b] || rows[a] - rows[b]);
    lists[h] = Uint32Array.from(order, (p) => rows[p]);
    if (order.length > limit) overfull.push(h);
  }
  // Pass 1: shed replicated entries, farthest first.
  for (const h of overfull) {
    const list = lists[h];
    const keep = new Uint8Array(list.length).fill(1);
    let len = list.length;
    for (let i = list.length - 1; i >= 0 && len > limit; i--) {
      const r = list[i];
      if (copies[r] > 1) {
        copies[r]--;
        keep[i] = 0;
        len--;
        trimmed++;
      }
    }
    lists[h] = list.filter((_, i) => keep[i] === 1);
  }
  // Pass 2: lists still too long shed sole copies (nearest kept), which become orphans.
  const orphans: number[] = [];
  for (const h of overfull) {
    const list = lists[h];
    if (list.length <= limit) continue;
    for (let i = limit; i < list.length; i++) {
      orphans.push(list[i]);
      trimmed++;
    }
    lists[h] = list.slice(0, limit);
  }
  return { lists, orphans, trimmed };
}
