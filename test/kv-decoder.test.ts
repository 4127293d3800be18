/** The decoder runner on the real stories260K (and GPT-2's stacked KV naming), RoPE re-rotation and the gate. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecoderModel } from '../src/kv/decoder.js';
import { checkRerotation } from '../src/kv/gate.js';
import { generate } from '../src/kv/generate.js';
import { concatCaches, sliceCache } from '../src/kv/kv-cache.js';
import { Llama2cTokenizer } from '../src/kv/llama2c-tokenizer.js';
import { builtinProfiles } from '../src/kv/profiles.js';
import { materializeProfile } from '../src/kv/random-llama.js';
import { rerotateKeys } from '../src/kv/rope.js';
import { createRng } from '../src/util/random.js';

const P = builtinProfiles();
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('llama2.c tokenizer (tok512.bin)', () => {
  const tok = Llama2cTokenizer.fromFile(P.stories260K.tokenizer.file);
  it('encodes with BOS and the dummy space, merging by score, and decodes back', () => {
    // Pieces checked by hand in tok512.bin: " Once"=403 " upon"=407 " a"=261 " time"=378 ","=432.
    expect(tok.encode('Once upon a time,').slice(0, 6)).toEqual([1, 403, 407, 261, 378, 432]);
    for (const text of ['Once upon a time, there was a little girl named Lily.', 'Émoji 😀 and ü; tabs\tand\nnewlines']) expect(tok.decode(tok.encode(text))).toBe(text);
  });
  it('a missing file is a coded error', () => {
    expect(() => Llama2cTokenizer.fromFile('/nonexistent/tok512.bin')).toThrow(expect.objectContaining({ code: 'STRATA_MODEL_FILE_MISSING' }));
  });
});

describe('DecoderModel on stories260K', () => {
  let model: DecoderModel;
  const tok = Llama2cTokenizer.fromFile(P.stories260K.tokenizer.file);
  beforeAll(async () => {
    model = await DecoderModel.load(P.stories260K.onnx);
  });
  afterAll(() => model.close());

  it('reads the KV layout from the graph', () => {
    expect({ naming: model.naming, layers: model.layers, kvHeads: model.kvHeads, headDim: model.headDim, vocab: model.vocab }).toEqual({ naming: 'split', layers: 5, kvHeads: 4, headDim: 8, vocab: 512 });
  });

  it('reproduces the upstream greedy sample character for character (256 steps with the KV cache)', async () => {
    const { tokens } = await generate(model, [1], { maxTokens: 256 });
    expect(tok.decode([1, ...tokens])).toBe(readFileSync(P.stories260K.onnx.replace('stories260K.onnx', 'golden-greedy-256.txt'), 'utf8'));
  });

  it('one-shot prefill equals token-by-token decoding, and a cached prefix gives the same logits as a full prefill', async () => {
    const ids = tok.encode('Once upon a time, there was a little dog who liked to run in the sun.');
    const full = await model.forward(ids, ids.map((_, i) => i));
    let cache = model.emptyCache();
    for (let i = 0; i < ids.length; i++) {
      const step = await model.forward([ids[i]], [i], cache);
      expect(maxDiff(step.logits, full.logits.subarray(i * 512, (i + 1) * 512))).toBeLessThan(2e-5);
      cache = step.cache;
    }
    const cut = 9;
    const prefix = await model.forward(ids.slice(0, cut), ids.slice(0, cut).map((_, i) => i));
    const rest = await model.forward(ids.slice(cut), ids.slice(cut).map((_, i) => cut + i), prefix.cache);
    expect(maxDiff(rest.logits, full.logits.subarray(cut * 512))).toBeLessThan(1e-5);
    expect(maxDiff(sliceCache(full.cache, 0, cut).keys[4], prefix.cache.keys[4])).toBeLessThan(1e-5);
    expect(maxDiff(concatCaches([sliceCache(full.cache, 0, cut), sliceCache(full.cache, cut, ids.length)]).values[2], full.cache.values[2])).toBe(0);
  });

  it('re-rotating a chunk computed at offset 0 to offset p equals computing it at p (within 1e-4)', async () => {
    const rng = createRng(9);
    for (const p of [1, 37, 300]) {
      const chunk = Array.from({ length: 20 }, () => 3 + rng.int(509));
      const at0 = await model.forward(chunk, chunk.map((_, i) => i));
      const atP = await model.forward(chunk, chunk.map((_, i) => p + i));
      rerotateKeys(at0.cache, p, { layout: 'interleaved', theta: 10000 });
      for (let l = 0; l < 5; l++) {
        expect(maxDiff(at0.cache.keys[l], atP.cache.keys[l])).toBeLessThan(1e-4);
        expect(maxDiff(at0.cache.values[l], atP.cache.values[l])).toBeLessThan(1e-4);
      }
    }
  });

  it('batched rows with masked pasts equal separate calls on the sliced pasts', async () => {
    const ids = tok.encode('Once upon a time, there was a little dog who liked to run in the sun and play.');
    const past = (await model.forward(ids, ids.map((_, i) => i))).cache;
    const rows = [
      { tokens: [300, 301], positions: [5, 6], visiblePast: 5 },
      { tokens: [302, 303, 304], positions: [12, 13, 14], visiblePast: 12 },
      { tokens: [305], positions: [ids.length], visiblePast: ids.length },
    ];
    const batched = await model.forwardRows(rows, past);
    for (let r = 0; r < rows.length; r++) {
      const alone = await model.forward(rows[r].tokens, rows[r].positions, sliceCache(past, 0, rows[r].visiblePast));
      const fresh = sliceCache(alone.cache, rows[r].visiblePast, rows[r].visiblePast + rows[r].tokens.length);
      for (let l = 0; l < 5; l++) {
        expect(maxDiff(batched[r].keys[l], fresh.keys[l])).toBeLessThan(1e-4);
        expect(maxDiff(batched[r].values[l], fresh.values[l])).toBeLessThan(1e-4);
      }
    }
  });

  it('the gate passes stories260K and llama-random-6M', async () => {
    expect((await checkRerotation(model, P.stories260K)).rerotation).toBe(true);
    const big = await DecoderModel.load(materializeProfile(P['llama-random-6M']).onnx);
    try {
      const r = await checkRerotation(big, P['llama-random-6M']);
      expect(r.rerotation).toBe(true);
      expect(r.relError).toBeLessThan(1e-4);
    } finally {
      await big.close();
    }
  });
});

describe('GPT-2 (stacked past_i, absolute positions)', () => {
  it('runs with the stacked KV naming, and the gate refuses re-rotation even if the profile claims RoPE', async () => {
    const model = await DecoderModel.load(P['tiny-random-gpt2'].onnx);
    try {
      expect({ naming: model.naming, layers: model.layers, kvHeads: model.kvHeads, headDim: model.headDim, vocab: model.vocab }).toEqual({ naming: 'stacked', layers: 5, kvHeads: 4, headDim: 8, vocab: 1000 });
      const ids = [98, 10, 20, 30, 40, 50];
      const full = await model.forward(ids, ids.map((_, i) => i));
      const prefix = await model.forward(ids.slice(0, 3), [0, 1, 2]);
      const rest = await model.forward(ids.slice(3), [3, 4, 5], prefix.cache);
      expect(maxDiff(rest.logits, full.logits.subarray(3 * 1000))).toBeLessThan(1e-5); // prefix reuse stays exact
      expect((await checkRerotation(model, P['tiny-random-gpt2'])).rerotation).toBe(false);
      const claimed = await checkRerotation(model, { ...P['tiny-random-gpt2'], positional: { kind: 'rope', layout: 'half', theta: 10000 } });
      expect(claimed.rerotation).toBe(false);
      expect(claimed.relError).toBeGreaterThan(0.01);
    } finally {
      await model.close();
    }
  });
});
