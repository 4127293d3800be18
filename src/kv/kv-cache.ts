/**
 * A transformer's KV cache for one sequence (batch 1), per layer: keys and values as flat float32
 * arrays in the models' own layout [kvHeads, length, headDim]. Helpers cut, join and copy caches
 * without per-token allocation: a chunk's cache is a slice, an assembled prompt is a concatenation.
 */
export interface KvCache {
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Tokens held. */
  length: number;
  /** keys[l] and values[l]: kvHeads × length × headDim. */
  keys: Float32Array[];
  values: Float32Array[];
}

export function emptyCache(layers: number, kvHeads: number, headDim: number): KvCache {
  return { layers, kvHeads, headDim, length: 0, keys: Array.from({ length: layers }, () => new Float32Array(0)), values: Array.from({ length: layers }, () => new Float32Array(0)) };
}

/** Copy tokens [from, to) of one layer array (kvHeads × len × headDim) into `out` at token `at` (out holds outLen tokens). */
function copyTokens(src: Float32Array, srcLen: number, from: number, to: number, out: Float32Array, outLen: number, at: number, kvHeads: number, headDim: number): void {
  const n = (to - from) * headDim;
  for (let h = 0; h < kvHeads; h++) out.set(src.subarray((h * srcLen + from) * headDim, (h * srcLen + from) * headDim + n), (h * outLen + at) * headDim);
}

/** Tokens [from, to) of a cache (a copy). */
export function sliceCache(c: KvCache, from: number, to: number): KvCache {
  const len = to - from;
  const cut = (a: Float32Array) => {
    const out = new Float32Array(c.kvHeads * len * c.headDim);
    copyTokens(a, c.length, from, to, out, len, 0, c.kvHeads, c.headDim);
    return out;
  };
  return { layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim, length: len, keys: c.keys.map(cut), values: c.values.map(cut) };
}

/** Caches one after another along the token axis (a new cache). */
export function concatCaches(parts: readonly KvCache[]): KvCache {
  const first = parts[0];
  const total = parts.reduce((s, p) => s + p.length, 0);
  const join = (pick: (c: KvCache) => Float32Array[]) =>
    Array.from({ length: first.layers }, (_, l) => {
      const out = new Float32Array(first.kvHeads * total * first.headDim);
      let at = 0;
      for (const p of parts) {
        copyTokens(pick(p)[l], p.length, 0, p.length, out, total, at, first.kvHeads, first.headDim);
        at += p.length;
      }
      return out;
    });
  return { layers: first.layers, kvHeads: first.kvHeads, headDim: first.headDim, length: total, keys: join((c) => c.keys), values: join((c) => c.values) };
}

/** Overwrite tokens [at, at + (srcTo - srcFrom)) of `dst` with tokens [srcFrom, srcTo) of `src` (same shape otherwise). */
export function writeTokens(dst: KvCache, at: number, src: KvCache, srcFrom = 0, srcTo = src.length): void {
  for (let l = 0; l < dst.layers; l++) {
    copyTokens(src.keys[l], src.length, srcFrom, srcTo, dst.keys[l], dst.length, at, dst.kvHeads, dst.headDim);
    copyTokens(src.values[l], src.length, srcFrom, srcTo, dst.values[l], dst.length, at, dst.kvHeads, dst.headDim);
  }
}

export function cloneCache(c: KvCache): KvCache {
  return { ...c, keys: c.keys.map((k) => k.slice()), values: c.values.map((v) => v.slice()) };
}

/** Bytes of float32 K and V. */
export function cacheBytes(c: KvCache): number {
  return 2 * c.layers * c.kvHeads * c.length * c.headDim * 4;
}
