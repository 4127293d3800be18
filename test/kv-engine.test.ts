/** Prompt assembly from cached chunks on stories260K: exactness at 0% and 100%, prefix reuse, quality, GPT-2 gated. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvEngine, type PromptParts } from '../src/kv/engine.js';
import { argmax, generate, softmax } from '../src/kv/generate.js';
import { concatCaches, cloneCache } from '../src/kv/kv-cache.js';
import { builtinProfiles } from '../src/kv/profiles.js';
import { cacheCraftBudgets, toRuns, topTokens } from '../src/kv/recompute.js';
import { rerotateKeys } from '../src/kv/rope.js';
import { tempDir } from './helpers.js';

const P = builtinProfiles();
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const kl = (p: Float32Array, q: Float32Array) => {
  const a = softmax(p, 0, p.length);
  const b = softmax(q, 0, q.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * Math.log(a[i] / b[i]);
  return s;
};

describe('recompute selection', () => {
  it('picks the top tokens, or whole blocks by summed score, and merges them into runs', () => {
    const scores = [0, 0, 5, 5, 0, 0, 0, 9];
    expect(topTokens(scores, 3)).toEqual([2, 3, 7]);
    expect(topTokens(scores, 3, 2)).toEqual([2, 3, 6, 7]); // blocks [2,3] (10) and [6,7] (9)
    expect(topTokens(scores, 0, 4)).toEqual([]);
    expect(toRuns([2, 3, 6, 7])).toEqual([[2, 4], [6, 8]]);
    expect(toRuns([2, 3, 6, 7], 2)).toEqual([[2, 8]]);
    // Budgets follow length x mean deviation and add up to the fraction of all reused tokens.
    const b = cacheCraftBudgets([{ length: 100, meanDeviation: 1 }, { length: 100, meanDeviation: 3 }], 0.2);
    expect(b).toEqual([10, 30]);
  });
});

describe('KvEngine on stories260K', () => {
  const tmp = tempDir('kvengine');
  let engine: KvEngine;
  let passages: number[][];
  let question: number[];
  const prompt = (order: number[]): PromptParts => ({ prefix: engine.encodePrompt({ system: 'Here are some stories.', passages: [], question: 'x' }).prefix, chunks: order.map((i) => passages[i]), question });
  beforeAll(async () => {
    engine = await KvEngine.open(P.stories260K, tmp.dir);
    passages = [];
    for (let seed = 0; passages.length < 5; seed++) {
      const { tokens } = await generate(engine.model, [1], { maxTokens: 70, temperature: 1, seed });
      const story = tokens.filter((t) => t > 2);
      if (story.length >= 40) passages.push(story);
    }
    question = engine.tokenizer.encode('Once upon a time, the little', false);
    // First sightings, in other orders: every passage gets cached with its statistics.
    await engine.assemble(prompt([4, 3, 2, 1, 0]), { strategy: 'none' });
  });
  afterAll(async () => {
    await engine.close();
    tmp.cleanup();
  });

  it('passes the gate and finds every chunk cached', async () => {
    expect(engine.canRerotate).toBe(true);
    const a = await engine.assemble(prompt([0, 2, 4]), { strategy: 'none', store: false });
    expect(a.report).toMatchObject({ chunkHits: 3, chunkMisses: 0, chunkSources: ['cached', 'cached', 'cached'], recomputedTokens: 0 });
  });

  it('100% recompute equals a full prefill (logits within 1e-4)', async () => {
    for (const order of [[0, 1, 2], [3, 0, 4, 1]]) {
      const full = await engine.fullPrefill(prompt(order));
      const a = await engine.assemble(prompt(order), { strategy: 'full', store: false });
      expect(a.report.recomputedTokens).toBe(a.report.reusedTokens);
      expect(maxDiff(a.logits, full.logits)).toBeLessThan(1e-4);
    }
  });

  it('0% recompute equals naive reuse: the cached chunks re-rotated and concatenated', async () => {
    const p = prompt([2, 0, 3]);
    const a = await engine.assemble(p, { strategy: 'none', store: false });
    let cache = (await engine.model.forward(p.prefix, p.prefix.map((_, i) => i))).cache;
    let at = p.prefix.length;
    for (const c of p.chunks) {
      const e = engine.chunks.get(engine.chunkKey(c))!;
      const moved = cloneCache(e.cache);
      rerotateKeys(moved, at - e.basePosition, { layout: 'interleaved', theta: 10000 });
      cache = concatCaches([cache, moved]);
      at += c.length;
    }
    const q = await engine.model.forward(p.question, p.question.map((_, i) => at + i), cache);
    expect(maxDiff(a.logits, q.logits.slice((p.question.length - 1) * 512))).toBeLessThan(1e-5);
  });

  it('reuses an exact prefix: the second time the same prompt comes, prefix caching alone is exact', async () => {
    const p = prompt([1, 3, 2]);
    const full = await engine.fullPrefill(p);
    const first = await engine.assemble(p, { reuseChunks: false });
    expect(first.report.strategy).toBe('prefix-only');
    const second = await engine.assemble(p, { reuseChunks: false, store: false });
    expect(second.report.prefixReused).toBe(p.prefix.length + p.chunks.flat().length);
    expect(maxDiff(second.logits, full.logits)).toBeLessThan(1e-4);
  });

  it('recomputing 15% of the reused tokens is closer to full prefill than recomputing none', async () => {
    const orders = [[0, 1, 2], [2, 4, 1], [3, 1, 0, 4], [4, 2, 3]];
    for (const strategy of ['kv-deviation', 'cache-craft', 'first-k'] as const) {
      let klNone = 0;
      let klSome = 0;
      let agree = 0;
      for (const o of orders) {
        const full = await engine.fullPrefill(prompt(o));
        const none = await engine.assemble(prompt(o), { strategy: 'none', store: false });
        const some = await engine.assemble(prompt(o), { strategy, fraction: 0.15, store: false });
        expect(some.report.recomputedTokens).toBeGreaterThan(0);
        klNone += kl(full.logits, none.logits);
        klSome += kl(full.logits, some.logits);
        agree += argmax(some.logits) === argmax(full.logits) ? 1 : 0;
      }
      expect(klSome, strategy).toBeLessThan(klNone);
      expect(agree / orders.length).toBeGreaterThanOrEqual(0.75);
    }
  });

  it('single pass: one ONNX call per prompt; 100% equals a full prefill, 0% equals the sequential 0%, and the next prompt finds what it stored', async () => {
    for (const order of [[0, 1, 2], [3, 0, 4, 1]]) {
      const full = await engine.fullPrefill(prompt(order));
      const one = await engine.assemble(prompt(order), { strategy: 'full', singlePass: true, store: false });
      expect(one.report).toMatchObject({ onnxCalls: 1, chunkHits: order.length });
      expect(one.report.recomputedTokens).toBe(one.report.reusedTokens);
      expect(maxDiff(one.logits, full.logits)).toBeLessThan(1e-4);
      const none = await engine.assemble(prompt(order), { strategy: 'none', store: false });
      const noneOne = await engine.assemble(prompt(order), { strategy: 'none', singlePass: true, store: false });
      expect(noneOne.report).toMatchObject({ onnxCalls: 1, recomputedTokens: 0 });
      expect(maxDiff(noneOne.logits, none.logits)).toBeLessThan(1e-4);
      // The cache it returns decodes like the sequential one's.
      expect(maxDiff(noneOne.cache.keys[4], none.cache.keys[4])).toBeLessThan(1e-4);
    }
    for (const strategy of ['kv-deviation', 'cache-craft', 'first-k'] as const) {
      const a = await engine.assemble(prompt([2, 4, 1]), { strategy, fraction: 0.15, singlePass: true, store: false });
      expect(a.report.onnxCalls, strategy).toBe(1);
      expect(a.report.recomputedTokens, strategy).toBeGreaterThan(0);
    }
  });

  it('rejects prompts past the context or with tokens outside the vocabulary', async () => {
    await expect(engine.assemble({ prefix: [1], chunks: [new Array(600).fill(5)], question: [5] })).rejects.toMatchObject({ code: 'STRATA_LIMIT_EXCEEDED' });
    await expect(engine.assemble({ prefix: [1], chunks: [[5, 9999]], question: [5] })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'tokens' });
    await expect(engine.assemble({ prefix: [1], chunks: [[5, 9]], question: [5] }, { strategy: 'magic' as never })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'strategy' });
    await expect(engine.assemble({ prefix: [1], chunks: [[5, 9]], question: [5] }, { namespace: 7 as never })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'namespace' });
    await expect(engine.assemble(prompt([0]), { fraction: 2 })).rejects.toMatchObject({ field: 'fraction' });
  });
});

describe('KvEngine on GPT-2 (absolute positions)', () => {
  it('is prefix-reuse-only: chunks are computed in context, never re-rotated, and the result is exact', async () => {
    const tmp = tempDir('kvgpt2');
    const engine = await KvEngine.open(P['tiny-random-gpt2'], tmp.dir);
    try {
      expect(engine.canRerotate).toBe(false);
      const p: PromptParts = { prefix: [98, 11, 12], chunks: [[20, 21, 22, 23], [30, 31, 32]], question: [40, 41] };
      await engine.assemble({ ...p, chunks: [p.chunks[1], p.chunks[0]] });
      const a = await engine.assemble(p, { strategy: 'none' });
      expect(a.report).toMatchObject({ strategy: 'prefix-only', chunkHits: 0, reusedTokens: 0 });
      expect(engine.chunks.stats().disk.entries).toBe(0);
      expect(maxDiff(a.logits, (await engine.fullPrefill(p)).logits)).toBeLessThan(1e-4);
    } finally {
      await engine.close();
      tmp.cleanup();
    }
  });
});
