/**
 * Random-weight Llama decoders, generated from a seed: the same ONNX I/O as the bundled stories260K
 * (input_ids, attention_mask, position_ids, past_key_values.{i}.key/value -> logits, present.{i}.*),
 * llama2.c's interleaved RoPE applied before the cache, grouped-query attention, RMSNorm, SwiGLU,
 * any size. Their outputs mean nothing; they exist so that model compute is large enough for KV
 * reuse timings to mean something, without storing tens of megabytes of noise in the repository.
 * The same spec gives the same bytes (weights drawn in a fixed order from the seeded generator), so
 * outputs are bit-identical across runs and machines.
 *
 * The graph is llama-graph.ts's (the decoder, or its single-pass selective-recompute variant).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createError } from '../errors.js';
import { llamaOnnx, type LlamaVariant, type WeightSource } from './llama-graph.js';
import { assetModel, cacheDir } from '../util/paths.js';
import { createRng } from '../util/random.js';
import type { ModelProfile } from './model-profile.js';

export interface RandomLlamaSpec {
  /** Model width. */
  dim: number;
  layers: number;
  /** Query heads; dim must divide by it. */
  heads: number;
  /** KV heads (grouped-query attention); heads must divide by it. Default heads. */
  kvHeads?: number;
  /** MLP width. Default llama2.c's: 8 dim / 3 rounded up to a multiple of 32. */
  hidden?: number;
  /** Default 512 (the bundled tok512 tokenizer). */
  vocab?: number;
  /** Longest sequence. Default 1024. */
  context?: number;
  /** RoPE theta. Default 10000. */
  theta?: number;
  /** Default 0. */
  seed?: number;
}

/** Every field of a spec, defaults filled in and checked. */
export function resolveSpec(spec: RandomLlamaSpec): Required<RandomLlamaSpec> {
  const s: Required<RandomLlamaSpec> = {
    dim: spec.dim,
    layers: spec.layers,
    heads: spec.heads,
    kvHeads: spec.kvHeads ?? spec.heads,
    hidden: spec.hidden ?? Math.ceil(Math.floor((8 * spec.dim) / 3) / 32) * 32,
    vocab: spec.vocab ?? 512,
    context: spec.context ?? 1024,
    theta: spec.theta ?? 10000,
    seed: spec.seed ?? 0,
  };
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < (k === 'seed' ? 0 : 1)) throw createError('STRATA_INVALID_OPTION', `${k} must be a positive integer, got ${v}`, k);
  }
  if (s.dim % s.heads !== 0) throw createError('STRATA_INVALID_OPTION', `dim ${s.dim} must be a multiple of heads ${s.heads}`, 'heads');
  if ((s.dim / s.heads) % 2 !== 0) throw createError('STRATA_INVALID_OPTION', `the head size dim / heads = ${s.dim / s.heads} must be even (RoPE rotates pairs)`, 'heads');
  if (s.heads % s.kvHeads !== 0) throw createError('STRATA_INVALID_OPTION', `heads ${s.heads} must be a multiple of kvHeads ${s.kvHeads}`, 'kvHeads');
  return s;
}

/** Parameters of a spec (embedding, attention, MLP, norms, output). */
export function parameterCount(spec: RandomLlamaSpec): number {
  const s = resolveSpec(spec);
  const hd = s.dim / s.heads;
  const perLayer = s.dim * s.dim * 2 + 2 * s.dim * s.kvHeads * hd + 3 * s.dim * s.hidden + 2 * s.dim;
  return 2 * s.vocab * s.dim + s.layers * perLayer + s.dim;
}

/**
 * The ONNX bytes of a random-weight Llama (opset 17; llama-graph.ts): the decoder, or a blend
 * variant (single-pass selective recompute) with the very same weights.
 */
export function randomLlamaOnnx(spec: RandomLlamaSpec, variant: LlamaVariant = { kind: 'decoder' }): Uint8Array {
  const s = resolveSpec(spec);
  const rng = createRng(s.seed);
  // Drawn in the order the graph asks for them (llama-graph.ts WeightSource): the same spec, the same weights.
  const random: WeightSource = (_name, dims, kind, std) => {
    const w = new Float32Array(dims.reduce((a, d) => a * d, 1));
    if (kind === 'norm') return w.fill(1);
    for (let i = 0; i < w.length; i++) w[i] = rng.gaussian() * std;
    return w;
  };
  return llamaOnnx(s, random, variant, { producer: 'strata random-llama', doc: JSON.stringify(s) });
}

/** A short, stable name for a spec: its fields and a hash of them. */
export function specName(spec: RandomLlamaSpec): string {
  const s = resolveSpec(spec);
  const tag = createHash('sha256').update(JSON.stringify(s)).digest('hex').slice(0, 8);
  return `llama-random-d${s.dim}-l${s.layers}-h${s.heads}-kv${s.kvHeads}-s${s.seed}-${tag}`;
}

/**
 * The model file of a spec, generated into `dir` (default: the cache, <cache>/models) on first use
 * and kept. Written to a temporary name and renamed, so a half-written file is never loaded.
 */
export function ensureRandomLlama(spec: RandomLlamaSpec, dir = join(cacheDir(), 'models')): string {
  const file = join(dir, `${specName(spec)}.onnx`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, randomLlamaOnnx(spec));
  renameSync(tmp, file);
  return file;
}

/** The profile with its model file present: a generated model is made on first use. */
export function materializeProfile(profile: ModelProfile): ModelProfile {
  if (profile.random && !existsSync(profile.onnx)) ensureRandomLlama(profile.random, dirname(profile.onnx));
  return profile;
}

/** The profile of a random Llama (llama2.c conventions; the bundled tok512 tokenizer). */
export function randomLlamaProfile(name: string, spec: RandomLlamaSpec): ModelProfile {
  const s = resolveSpec(spec);
  return {
    name,
    onnx: join(cacheDir(), 'models', `${specName(s)}.onnx`),
    tokenizer: { type: 'llama2c', file: join(assetModel('stories260K'), 'tok512.bin') },
    positional: { kind: 'rope', layout: 'interleaved', theta: s.theta },
    maxContext: s.context,
    bos: 1,
    eos: 2,
    layers: s.layers,
    kvHeads: s.kvHeads,
    headDim: s.dim / s.heads,
    random: s,
  };
}
