/**
 * The decoder models Strata knows by name: stories260K (a real, trained Llama: bundled), random
 * Llamas of stories15M's, 42M's and 110M's shapes (generated from a seed on first use:
 * random-llama.ts) and a tiny
 * random GPT-2 (bundled; absolute positions, so chunk caches cannot be moved). README: "Bundled
 * models and data".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { assetModel } from '../util/paths.js';
import type { ModelProfile } from './model-profile.js';
import { randomLlamaProfile } from './random-llama.js';

export type BuiltinModel = 'stories260K' | 'llama-random-6M' | 'llama-random-25M' | 'llama-random-86M' | 'tiny-random-gpt2';

export function builtinProfiles(): Record<BuiltinModel, ModelProfile> {
  const stories = assetModel('stories260K');
  const gpt2 = assetModel('tiny-random-gpt2');
  return {
    // A real trained Llama-architecture model (TinyStories): llama2.c export, interleaved RoPE.
    stories260K: {
      name: 'stories260K',
      onnx: join(stories, 'stories260K.onnx'),
      tokenizer: { type: 'llama2c', file: join(stories, 'tok512.bin') },
      positional: { kind: 'rope', layout: 'interleaved', theta: 10000 },
      maxContext: 512,
      bos: 1,
      eos: 2,
      layers: 5,
      kvHeads: 4,
      headDim: 8,
    },
    // stories15M's shape with random weights: enough compute for timings to mean something.
    'llama-random-6M': randomLlamaProfile('llama-random-6M', { dim: 288, layers: 6, heads: 6, hidden: 768, context: 1024, seed: 0 }),
    // stories42M's and stories110M's shapes (tok512's 512-token vocabulary, hence 25M and 86M
    // parameters): where model compute dominates a prompt, as in deployment. Generated on first use.
    'llama-random-25M': randomLlamaProfile('llama-random-25M', { dim: 512, layers: 8, heads: 8, context: 2048, seed: 0 }),
    'llama-random-86M': randomLlamaProfile('llama-random-86M', { dim: 768, layers: 12, heads: 12, context: 2048, seed: 0 }),
    // Learned absolute position embeddings: the gate must refuse re-rotation.
    'tiny-random-gpt2': {
      name: 'tiny-random-gpt2',
      onnx: join(gpt2, 'past.onnx'),
      tokenizer: { type: 'huggingface', file: join(gpt2, 'tokenizer.json.gz') },
      positional: { kind: 'absolute' },
      maxContext: 512,
      bos: 98,
      eos: 98,
    },
  };
}

/** A built-in model's name, or a JSON file holding a ModelProfile. */
export function resolveProfile(nameOrFile: string): ModelProfile {
  const builtin = builtinProfiles() as Record<string, ModelProfile>;
  if (builtin[nameOrFile]) return builtin[nameOrFile];
  let text: string;
  try {
    text = readFileSync(nameOrFile, 'utf8');
  } catch {
    throw createError('STRATA_MODEL_FILE_MISSING', `model must be one of ${Object.keys(builtin).join(', ')} or a profile JSON file; ${JSON.stringify(nameOrFile)} is neither`, 'model');
  }
  try {
    return JSON.parse(text) as ModelProfile;
  } catch (err) {
    throw createError('STRATA_MODEL_INVALID', `model: ${nameOrFile} is not JSON (${(err as Error).message})`, 'model');
  }
}
