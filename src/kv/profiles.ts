/** Profiles of the decoder models in ../shared (see its README for each one's I/O and RoPE convention). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { SHARED_DIR } from '../util/paths.js';
import type { ModelProfile } from './model-profile.js';

export function sharedProfiles(shared = SHARED_DIR): Record<'stories260K' | 'llama-random-6M' | 'tiny-random-gpt2', ModelProfile> {
  const m = (...p: string[]) => join(shared, 'models', ...p);
  /** A llama2.c export in models/<name>: <name>.onnx, tok512.bin, interleaved RoPE (theta 10000), BOS 1, EOS 2. */
  const llama2c = (name: string): ModelProfile => ({
    name,
    onnx: m(name, `${name}.onnx`),
    tokenizer: { type: 'llama2c', file: m(name, 'tok512.bin') },
    positional: { kind: 'rope', layout: 'interleaved', theta: 10000 },
    maxContext: 512,
    bos: 1,
    eos: 2,
  });
  return {
    // A real trained Llama-architecture model (TinyStories).
    stories260K: { ...llama2c('stories260K'), layers: 5, kvHeads: 4, headDim: 8 },
    // Same layout, random weights, enough compute for timings to mean something.
    'llama-random-6M': llama2c('llama-random-6M'),
    // Learned absolute position embeddings: the gate must refuse re-rotation.
    'tiny-random-gpt2': {
      name: 'tiny-random-gpt2',
      onnx: m('tiny-random-gpt2', 'past.onnx'),
      tokenizer: { type: 'huggingface', file: m('tiny-random-gpt2', 'tokenizer.json') },
      positional: { kind: 'absolute' },
      maxContext: 512,
      bos: 98,
      eos: 98,
    },
  };
}

/** A shared model's name, or a JSON file holding a ModelProfile. */
export function resolveProfile(nameOrFile: string): ModelProfile {
  const shared = sharedProfiles() as Record<string, ModelProfile>;
  if (shared[nameOrFile]) return shared[nameOrFile];
  let text: string;
  try {
    text = readFileSync(nameOrFile, 'utf8');
  } catch {
    throw createError('STRATA_MODEL_FILE_MISSING', `model must be one of ${Object.keys(shared).join(', ')} or a profile JSON file; ${JSON.stringify(nameOrFile)} is neither`, 'model');
  }
  try {
    return JSON.parse(text) as ModelProfile;
  } catch (err) {
    throw createError('STRATA_MODEL_INVALID', `model: ${nameOrFile} is not JSON (${(err as Error).message})`, 'model');
  }
}
