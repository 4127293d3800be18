/** Generated random-weight Llama decoders: deterministic bytes and outputs, stories260K's I/O, a correct KV cache, the gate. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DecoderModel } from '../src/kv/decoder.js';
import { checkRerotation } from '../src/kv/gate.js';
import { sliceCache } from '../src/kv/kv-cache.js';
import { ensureRandomLlama, parameterCount, randomLlamaOnnx, randomLlamaProfile, type RandomLlamaSpec } from '../src/kv/random-llama.js';
import { tempDir } from './helpers.js';

const GQA: RandomLlamaSpec = { dim: 64, layers: 2, heads: 4, kvHeads: 2, context: 256, seed: 3 };
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('random Llama generator', () => {
  const tmp = tempDir('random-llama');
  afterAll(() => tmp.cleanup());

  it('the same spec gives the same bytes; another seed other weights', () => {
    const a = randomLlamaOnnx(GQA);
    expect(Buffer.from(randomLlamaOnnx(GQA)).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(randomLlamaOnnx({ ...GQA, seed: 4 })).equals(Buffer.from(a))).toBe(false);
    expect(parameterCount(GQA)).toBe(2 * 512 * 64 + 2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 192 + 2 * 64) + 64);
    expect(() => randomLlamaOnnx({ ...GQA, heads: 3 })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'heads' }));
  });

  it('has stories260K\'s I/O, and its outputs are bit-identical across sessions', async () => {
    const file = ensureRandomLlama(GQA, tmp.dir);
    expect(readFileSync(file).equals(Buffer.from(randomLlamaOnnx(GQA)))).toBe(true);
    const tokens = [1, 45, 300, 7, 99, 12];
    const positions = tokens.map((_, i) => i);
    const runs: Float32Array[] = [];
    for (let r = 0; r < 2; r++) {
      const m = await DecoderModel.load(file);
      try {
        expect({ naming: m.naming, layers: m.layers, kvHeads: m.kvHeads, headDim: m.headDim, vocab: m.vocab }).toEqual({ naming: 'split', layers: 2, kvHeads: 2, headDim: 16, vocab: 512 });
        runs.push((await m.forward(tokens, positions)).logits);
      } finally {
        await m.close();
      }
    }
    expect(Buffer.from(runs[0].buffer).equals(Buffer.from(runs[1].buffer))).toBe(true);
  });

  it('a cached prefix plus new tokens equals one prefill, and the re-rotation gate passes (GQA and MHA)', async () => {
    for (const spec of [GQA, { dim: 96, layers: 3, heads: 3, seed: 1 }]) {
      const profile = randomLlamaProfile('test', spec);
      const file = ensureRandomLlama(spec, join(tmp.dir, 'gate'));
      const m = await DecoderModel.load(file);
      try {
        const tokens = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 512);
        const full = await m.forward(tokens, tokens.map((_, i) => i));
        const head = await m.forward(tokens.slice(0, 25), tokens.slice(0, 25).map((_, i) => i));
        const tail = await m.forward(tokens.slice(25), tokens.slice(25).map((_, i) => 25 + i), head.cache);
        expect(maxDiff(tail.logits, full.logits.subarray(25 * 512))).toBeLessThan(1e-4);
        for (let l = 0; l < m.layers; l++) expect(maxDiff(tail.cache.keys[l], full.cache.keys[l])).toBeLessThan(1e-4);
        expect(maxDiff(sliceCache(tail.cache, 0, 25).values[0], head.cache.values[0])).toBe(0);
        const gate = await checkRerotation(m, { ...profile, onnx: file });
        expect(gate.rerotation).toBe(true);
        expect(gate.relError).toBeLessThan(1e-4);
      } finally {
        await m.close();
      }
    }
  });
});
