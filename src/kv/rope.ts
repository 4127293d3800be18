/**
 * Re-rotating cached keys to a new position. RoPE rotates each pair of a key's dimensions by
 * pos x theta^(-2i/rotaryDim); rotations compose, so a key cached at position p moves to p + delta by
 * one more rotation of delta x theta^(-2i/rotaryDim) (values are never rotated). Two pair layouts:
 * `interleaved` (llama2.c, Meta: dims 2i and 2i+1) and `half` (Hugging Face: dims i and i + d/2).
 */
import type { KvCache } from './kv-cache.js';

export type RopeLayout = 'interleaved' | 'half';

export interface RopeParams {
  layout: RopeLayout;
  theta: number;
  /** Dimensions rotated (from the start of each head); default the whole head. */
  rotaryDim?: number;
}

/**
 * Rotate tokens [from, to) of every layer's keys by `delta` positions, in place. One cos/sin table
 * per call; no allocation per token.
 */
export function rerotateKeys(cache: KvCache, delta: number, rope: RopeParams, from = 0, to = cache.length): void {
  if (delta === 0 || to <= from) return;
  const D = cache.headDim;
  const R = rope.rotaryDim ?? D;
  const pairs = R >> 1;
  const cos = new Float64Array(pairs);
  const sin = new Float64Array(pairs);
  for (let i = 0; i < pairs; i++) {
    const angle = delta * Math.pow(rope.theta, (-2 * i) / R);
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
  }
  const interleaved = rope.layout === 'interleaved';
  for (const keys of cache.keys) {
    for (let h = 0; h < cache.kvHeads; h++) {
      for (let t = from; t < to; t++) {
        const o = (h * cache.length + t) * D;
        for (let i = 0; i < pairs; i++) {
          const a = interleaved ? o + 2 * i : o + i;
          const b = interleaved ? a + 1 : a + pairs;
          const x = keys[a];
          const y = keys[b];
          keys[a] = x * cos[i] - y * sin[i];
          keys[b] = x * sin[i] + y * cos[i];
        }
      }
    }
  }
}
