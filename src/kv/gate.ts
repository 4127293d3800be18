/**
 * The correctness gate for moving cached chunks: compute a chunk of seeded random tokens at
 * positions 0.. and again at offset.., re-rotate the first cache by the offset, and compare every
 * layer's keys and values with the fresh computation. RoPE models pass (up to float error); models
 * with absolute position embeddings (GPT-2) cannot, and are marked prefix-reuse-only.
 */
import { createRng } from '../util/random.js';
import type { DecoderModel } from './decoder.js';
import type { ModelProfile } from './model-profile.js';
import { rerotateKeys } from './rope.js';

export interface GateReport {
  /** Re-rotated caches may be used at other positions. */
  rerotation: boolean;
  /** Largest |re-rotated - fresh| over keys and values of every layer, and that over max |fresh|. */
  maxAbsError: number;
  relError: number;
  tokens: number;
  offset: number;
  tolerance: number;
}

export interface GateOptions {
  tokens?: number;
  offset?: number;
  seed?: number;
  /** Largest relative error accepted. Default 1e-4. */
  tolerance?: number;
}

export async function checkRerotation(model: DecoderModel, profile: ModelProfile, options: GateOptions = {}): Promise<GateReport> {
  const n = options.tokens ?? 24;
  const offset = options.offset ?? Math.min(97, Math.max(1, profile.maxContext - n));
  const tolerance = options.tolerance ?? 1e-4;
  const rng = createRng(options.seed ?? 2024);
  const tokens = Array.from({ length: n }, () => 3 + rng.int(model.vocab - 3));
  const atZero = await model.forward(tokens, tokens.map((_, i) => i));
  const atOffset = await model.forward(tokens, tokens.map((_, i) => offset + i));
  const moved = atZero.cache;
  if (profile.positional.kind === 'rope') rerotateKeys(moved, offset, profile.positional);
  let maxAbs = 0;
  let scale = 0;
  for (let l = 0; l < model.layers; l++) {
    for (const [a, b] of [
      [moved.keys[l], atOffset.cache.keys[l]],
      [moved.values[l], atOffset.cache.values[l]],
    ]) {
      for (let i = 0; i < a.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
        scale = Math.max(scale, Math.abs(b[i]));
      }
    }
  }
  const relError = maxAbs / (scale || 1);
  return { rerotation: profile.positional.kind === 'rope' && relError <= tolerance, maxAbsError: maxAbs, relError, tokens: n, offset, tolerance };
}
