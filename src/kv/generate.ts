/**
 * Decoding from a KV cache: greedy (temperature 0) or sampled (temperature, top-p, seeded), one token
 * per forward call, stopping at EOS or after maxTokens.
 */
import { createRng } from '../util/random.js';
import type { DecoderModel } from './decoder.js';
import type { KvCache } from './kv-cache.js';

export interface SamplingOptions {
  /** Tokens to generate at most. Default 32. */
  maxTokens?: number;
  /** 0 = greedy (argmax). Default 0. */
  temperature?: number;
  /** Nucleus sampling: smallest set of tokens whose probability reaches topP. Default 1. */
  topP?: number;
  /** Seed of the sampler. Default 0. */
  seed?: number;
  /** Token that ends generation (not included). Default none. */
  eos?: number;
}

export function argmax(logits: Float32Array, from = 0, n = logits.length - from): number {
  let best = from;
  for (let i = from + 1; i < from + n; i++) if (logits[i] > logits[best]) best = i;
  return best - from;
}

/** Softmax of one row (a new array), numerically stable; `temperature` scales the logits. */
export function softmax(logits: Float32Array, from: number, n: number, temperature = 1): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[from + i]);
  const p = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += p[i] = Math.exp((logits[from + i] - max) / temperature);
  for (let i = 0; i < n; i++) p[i] /= sum;
  return p;
}

function sample(p: Float64Array, topP: number, u: number): number {
  const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a]);
  let mass = 0;
  let keep = 0;
  while (keep < order.length && mass < topP) mass += p[order[keep++]];
  let r = u * mass;
  for (let i = 0; i < keep; i++) {
    r -= p[order[i]];
    if (r <= 0) return order[i];
  }
  return order[keep - 1];
}

/**
 * Continue from `cache` whose next token would sit at `position`, given the logits row that predicts
 * it (`lastLogits`, vocab entries). Returns the generated tokens and the final cache.
 */
export async function decodeFrom(model: DecoderModel, cache: KvCache, lastLogits: Float32Array, position: number, options: SamplingOptions = {}): Promise<{ tokens: number[]; cache: KvCache }> {
  const maxTokens = options.maxTokens ?? 32;
  const temperature = options.temperature ?? 0;
  const rng = createRng(options.seed ?? 0);
  const tokens: number[] = [];
  let logits = lastLogits;
  for (let step = 0; step < maxTokens; step++) {
    const next = temperature === 0 ? argmax(logits, 0, model.vocab) : sample(softmax(logits, 0, model.vocab, temperature), options.topP ?? 1, rng.next());
    if (next === options.eos) break;
    tokens.push(next);
    if (step === maxTokens - 1) break;
    const r = await model.forward([next], [position], cache);
    cache = r.cache;
    logits = r.logits;
    position++;
  }
  return { tokens, cache };
}

/** Prefill `prompt` (positions 0..n-1) and decode. */
export async function generate(model: DecoderModel, prompt: readonly number[], options: SamplingOptions = {}): Promise<{ tokens: number[]; cache: KvCache; prefillLogits: Float32Array }> {
  const { logits, cache } = await model.forward(prompt, prompt.map((_, i) => i));
  const last = logits.subarray((prompt.length - 1) * model.vocab, prompt.length * model.vocab);
  const out = await decodeFrom(model, cache, last, prompt.length, options);
  return { ...out, prefillLogits: logits };
}
