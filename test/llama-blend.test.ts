/**
 * The single-pass selective-recompute graph (llama-graph.ts, blend variant) against the decoder with
 * the same weights: recomputing every token equals a full prefill, recomputing only the suffix over
 * a cached prefix equals plain reuse, and the in-graph selection returns the given tokens and as
 * many more as asked, ascending — each in ONE ORT call.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecoderModel } from '../src/kv/decoder.js';
import type { KvCache } from '../src/kv/kv-cache.js';
import { randomLlamaOnnx, type RandomLlamaSpec } from '../src/kv/random-llama.js';

const SPEC: RandomLlamaSpec = { dim: 64, layers: 4, heads: 4, kvHeads: 2, context: 256, seed: 5 };
const L = 4, KV = 2, HD = 16, V = 512;
const T = 40;
const tokens = Array.from({ length: T }, (_, i) => (i * 53 + 7) % V);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

let decoder: DecoderModel;
let given: ort.InferenceSession;
let select: ort.InferenceSession;
let full: { logits: Float32Array; cache: KvCache };

beforeAll(async () => {
  decoder = await DecoderModel.load('random-llama (in memory)', {}, randomLlamaOnnx(SPEC));
  given = await ort.InferenceSession.create(randomLlamaOnnx(SPEC, { kind: 'blend', selectLayer: null }));
  select = await ort.InferenceSession.create(randomLlamaOnnx(SPEC, { kind: 'blend', selectLayer: 1 }));
  full = await decoder.forward(tokens, tokens.map((_, i) => i));
});
afterAll(async () => {
  await decoder?.close();
  await given?.release();
  await select?.release();
});

/** One blend call: the prompt, a cache for every position, the given indices (and how many more to select). */
async function blend(session: ort.InferenceSession, cache: KvCache, recompute: number[], selectCount?: number) {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, (_, i) => BigInt(i)), [1, T]),
    recompute_ids: new ort.Tensor('int64', BigInt64Array.from(recompute, BigInt), [recompute.length]),
  };
  if (selectCount !== undefined) feeds.select_count = new ort.Tensor('int64', BigInt64Array.of(BigInt(selectCount)), [1]);
  for (let l = 0; l < L; l++) {
    feeds[`cache.${l}.key`] = new ort.Tensor('float32', cache.keys[l], [1, KV, T, HD]);
    feeds[`cache.${l}.value`] = new ort.Tensor('float32', cache.values[l], [1, KV, T, HD]);
  }
  const out = await session.run(feeds);
  return {
    logits: out.logits.data as Float32Array,
    recomputed: Array.from(out.recomputed.data as BigInt64Array, Number),
    keys: Array.from({ length: L }, (_, l) => out[`present.${l}.key`].data as Float32Array),
    values: Array.from({ length: L }, (_, l) => out[`present.${l}.value`].data as Float32Array),
  };
}

const zeros = (): KvCache => ({ length: T, keys: Array.from({ length: L }, () => new Float32Array(KV * T * HD)), values: Array.from({ length: L }, () => new Float32Array(KV * T * HD)) }) as KvCache;

/** A cache of the first `n` tokens' prefill, zeros after. */
async function prefixCache(n: number): Promise<KvCache> {
  const head = await decoder.forward(tokens.slice(0, n), tokens.slice(0, n).map((_, i) => i));
  const c = zeros();
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < KV; h++) {
      c.keys[l].set(head.cache.keys[l].subarray(h * n * HD, (h + 1) * n * HD), h * T * HD);
      c.values[l].set(head.cache.values[l].subarray(h * n * HD, (h + 1) * n * HD), h * T * HD);
    }
  }
  return c;
}

describe('single-pass selective recompute (blend graph)', () => {
  it('recomputing every token equals a full prefill (logits and every layer\'s K/V), whatever the cache held', async () => {
    const all = Array.from({ length: T }, (_, i) => i);
    for (const session of [given, select]) {
      const r = await blend(session, zeros(), all, session === select ? 0 : undefined);
      expect(r.recomputed).toEqual(all);
      expect(maxDiff(r.logits, full.logits)).toBeLessThan(1e-4);
      for (let l = 0; l < L; l++) {
        expect(maxDiff(r.keys[l], full.cache.keys[l])).toBeLessThan(1e-4);
        expect(maxDiff(r.values[l], full.cache.values[l])).toBeLessThan(1e-4);
      }
    }
  });

  it('recomputing only the suffix over a cached prefix equals plain reuse (the decoder run on the suffix with the prefix as past)', async () => {
    const cache = await prefixCache(25);
    const suffix = Array.from({ length: T - 25 }, (_, i) => 25 + i);
    const head = await decoder.forward(tokens.slice(0, 25), tokens.slice(0, 25).map((_, i) => i));
    const reuse = await decoder.forward(tokens.slice(25), suffix, head.cache);
    const r = await blend(given, cache, suffix);
    expect(r.recomputed).toEqual(suffix);
    expect(maxDiff(r.logits, reuse.logits)).toBeLessThan(1e-4);
    for (let l = 0; l < L; l++) expect(maxDiff(r.keys[l], reuse.cache.keys[l])).toBeLessThan(1e-4);
  });

  it('in-graph selection: the given tokens plus as many more as asked, ascending; all of them again equal a full prefill', async () => {
    const cache = await prefixCache(25);
    const suffix = Array.from({ length: T - 25 }, (_, i) => 25 + i);
    const r = await blend(select, cache, suffix, 6);
    expect(r.recomputed).toHaveLength(suffix.length + 6);
    expect(r.recomputed).toEqual([...r.recomputed].sort((a, b) => a - b));
    for (const i of suffix) expect(r.recomputed).toContain(i);
    const every = await blend(select, cache, suffix, T);
    expect(every.recomputed).toEqual(Array.from({ length: T }, (_, i) => i));
    expect(maxDiff(every.logits, full.logits)).toBeLessThan(1e-4);
  });

  it('in-graph selection chooses exactly the tokens whose cache is wrong, and the answer then equals a full prefill', async () => {
    // The full prefill's cache with positions 3, 10 and 17 corrupted in every layer: every other
    // token's fresh K at layer 1 equals its cached K, so only those three deviate (and every token
    // gets some attention from the last one).
    const wrong = [3, 10, 17];
    const cache: KvCache = { ...full.cache, keys: full.cache.keys.map((k) => k.slice()), values: full.cache.values.map((v) => v.slice()) };
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < KV; h++) {
        for (const i of wrong) {
          for (let d = 0; d < HD; d++) {
            cache.keys[l][(h * T + i) * HD + d] += d % 2 ? 1 : -1;
            cache.values[l][(h * T + i) * HD + d] += 0.5;
          }
        }
      }
    }
    const suffix = [T - 2, T - 1];
    const r = await blend(select, cache, suffix, wrong.length);
    expect(r.recomputed).toEqual([...wrong, ...suffix]);
    expect(maxDiff(r.logits.subarray((r.recomputed.length - 1) * V), full.logits.subarray((T - 1) * V))).toBeLessThan(1e-4);
    const plain = await blend(given, cache, suffix);
    expect(maxDiff(plain.logits.subarray(V), full.logits.subarray((T - 1) * V))).toBeGreaterThan(1e-3);
  });
});

describe('variants of an existing model (stories260K) built by the graph tooling', () => {
  it("the decoder rebuilt from stories260K's weights answers as stories260K itself; its blend graph at 100% equals the prefill", async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { assetModel } = await import('../src/util/paths.js');
    const { llamaWeights } = await import('../src/kv/model-weights.js');
    const { llamaOnnx } = await import('../src/kv/llama-graph.js');
    const original = readFileSync(join(assetModel('stories260K'), 'stories260K.onnx'));
    const { shape, weights } = llamaWeights(original);
    expect(shape).toEqual({ dim: 64, layers: 5, heads: 8, kvHeads: 4, hidden: 172, vocab: 512, theta: 10000 });
    const a = await DecoderModel.load('stories260K', {}, original);
    const b = await DecoderModel.load('stories260K rebuilt', {}, llamaOnnx(shape, weights, { kind: 'decoder' }, { producer: 'test', doc: '' }));
    const s = await ort.InferenceSession.create(llamaOnnx(shape, weights, { kind: 'blend', selectLayer: null }, { producer: 'test', doc: '' }));
    try {
      const prompt = Array.from({ length: 30 }, (_, i) => (i * 31 + 3) % 512);
      const pos = prompt.map((_, i) => i);
      const ra = await a.forward(prompt, pos);
      const rb = await b.forward(prompt, pos);
      expect(maxDiff(ra.logits, rb.logits)).toBeLessThan(1e-5);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, 30]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(30).fill(1n), [1, 30]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(pos, BigInt), [1, 30]),
        recompute_ids: new ort.Tensor('int64', BigInt64Array.from(pos, BigInt), [30]),
      };
      for (let l = 0; l < shape.layers; l++) for (const kv of ['key', 'value']) feeds[`cache.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(4 * 30 * 8), [1, 4, 30, 8]);
      const out = await s.run(feeds);
      expect(maxDiff(out.logits.data as Float32Array, ra.logits)).toBeLessThan(1e-4);
    } finally {
      await a.close();
      await b.close();
      await s.release();
    }
  });
});
