/**
 * Random-weight Llama decoders, generated from a seed: the same ONNX I/O as the bundled stories260K
 * (input_ids, attention_mask, position_ids, past_key_values.{i}.key/value -> logits, present.{i}.*),
 * llama2.c's interleaved RoPE applied before the cache, grouped-query attention, RMSNorm, SwiGLU,
 * any size. Their outputs mean nothing; they exist so that model compute is large enough for KV
 * reuse timings to mean something, without storing tens of megabytes of noise in the repository.
 * The same spec gives the same bytes (weights drawn in a fixed order from the seeded generator), so
 * outputs are bit-identical across runs and machines.
 *
 * Graph, per layer (B batch, S new tokens, P past, T = P + S):
 *   h = rmsnorm(x);  q, k, v = h Wq, h Wk, h Wv  ->  [B, heads, S, hd]
 *   q, k rotated by position (pairs 2i, 2i+1 by pos * theta^(-2i/hd));  k, v appended to the past
 *   attention over the cache: key j visible to query i iff j <= P + i and attention_mask[j] = 1
 *   x += softmax(q k^T / sqrt(hd)) v Wo;  x += (silu(rmsnorm(x) Wg) * rmsnorm(x) Wu) Wd
 * then logits = rmsnorm(x) W_lm.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createError } from '../errors.js';
import { elemTypeId, GraphBuilder } from '../util/onnx-builder.js';
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

/** The ONNX bytes of a random-weight Llama (opset 17). */
export function randomLlamaOnnx(spec: RandomLlamaSpec): Uint8Array {
  const s = resolveSpec(spec);
  const { dim: D, layers: L, heads: H, kvHeads: KV, hidden: F, vocab: V } = s;
  const hd = D / H;
  const rng = createRng(s.seed);
  const g = new GraphBuilder('random-llama');
  const weight = (name: string, rows: number, cols: number, std: number) => {
    const w = new Float32Array(rows * cols);
    for (let i = 0; i < w.length; i++) w[i] = rng.gaussian() * std;
    return g.initializer(name, 'float', [rows, cols], w);
  };
  const ones = (name: string) => g.initializer(name, 'float', [D], new Float32Array(D).fill(1));
  const std = 0.02;
  const outStd = 0.02 / Math.sqrt(2 * L); // GPT-2/llama2.c scaling of the residual projections

  // I/O, named as stories260K's.
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positions = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const past = Array.from({ length: L }, (_, l) => ({
    key: g.input(`past_key_values.${l}.key`, 'float', ['batch_size', KV, 'past_sequence_length', hd]),
    value: g.input(`past_key_values.${l}.value`, 'float', ['batch_size', KV, 'past_sequence_length', hd]),
  }));

  const embed = weight('model.embed_tokens.weight', V, D, 1);
  let x = g.node('Gather', [embed, ids], { axis: 0 });

  // RoPE angles: position x theta^(-2i/hd), i < hd/2  ->  [B, 1, S, hd/2]
  const invFreq = g.initializer('rope_inv_freq', 'float', [hd / 2], Float32Array.from({ length: hd / 2 }, (_, i) => s.theta ** ((-2 * i) / hd)));
  const pos = g.node('Unsqueeze', [g.node('Cast', [positions], { to: elemTypeId('float') }), g.ints([1, 3])]);
  const angles = g.node('Mul', [pos, invFreq]);
  const cos = g.node('Cos', [angles]);
  const sin = g.node('Sin', [angles]);

  // Which cached key each new token may see: causal by index into the cache, and the attention mask.
  const scalarAt = (t: string, i: number) => g.node('Gather', [g.node('Shape', [t]), g.ints([i], true)], { axis: 0 });
  const S = scalarAt(ids, 1);
  const P = scalarAt(past[0].key, 2);
  const T = g.node('Add', [P, S]);
  const queryIdx = g.node('Range', [P, T, g.ints([1], true)]);
  const keyIdx = g.node('Range', [g.ints([0], true), T, g.ints([1], true)]);
  const causal = g.node('LessOrEqual', [g.node('Unsqueeze', [keyIdx, g.ints([0])]), g.node('Unsqueeze', [queryIdx, g.ints([1])])]);
  const maskBool = g.node('Unsqueeze', [g.node('Cast', [mask], { to: elemTypeId('bool') }), g.ints([1, 2])]);
  const allowed = g.node('And', [causal, maskBool]); // [B, 1, S, T]
  const negLarge = g.float(-1e9);
  const scale = g.float(1 / Math.sqrt(hd));
  const eps = g.float(1e-5);

  const rmsnorm = (t: string, w: string) => {
    const ms = g.node('ReduceMean', [g.node('Mul', [t, t])], { axes: [-1], keepdims: 1 });
    return g.node('Mul', [g.node('Mul', [t, g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [ms, eps])])])]), w]);
  };
  const heads = (t: string, n: number) => g.node('Transpose', [g.node('Reshape', [t, g.ints([0, 0, n, hd])])], { perm: [0, 2, 1, 3] });
  const rope = (t: string) => {
    const pairs = g.node('Reshape', [t, g.ints([0, 0, 0, -1, 2])]);
    const a = g.node('Gather', [pairs, g.ints([0], true)], { axis: -1 });
    const b = g.node('Gather', [pairs, g.ints([1], true)], { axis: -1 });
    const ra = g.node('Sub', [g.node('Mul', [a, cos]), g.node('Mul', [b, sin])]);
    const rb = g.node('Add', [g.node('Mul', [a, sin]), g.node('Mul', [b, cos])]);
    const joined = g.node('Concat', [g.node('Unsqueeze', [ra, g.ints([-1])]), g.node('Unsqueeze', [rb, g.ints([-1])])], { axis: -1 });
    return g.node('Reshape', [joined, g.ints([0, 0, 0, -1])]);
  };
  const repeatKv = (t: string) => (H === KV ? t : g.node('Reshape', [g.node('Tile', [g.node('Unsqueeze', [t, g.ints([2])]), g.ints([1, 1, H / KV, 1, 1])]), g.ints([0, H, -1, hd])]));

  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const h = rmsnorm(x, ones(`${p}.input_layernorm.weight`));
    const q = rope(heads(g.node('MatMul', [h, weight(`${p}.q_proj.weightT`, D, H * hd, std)]), H));
    const k = rope(heads(g.node('MatMul', [h, weight(`${p}.k_proj.weightT`, D, KV * hd, std)]), KV));
    const v = heads(g.node('MatMul', [h, weight(`${p}.v_proj.weightT`, D, KV * hd, std)]), KV);
    const key = g.node('Concat', [past[l].key, k], { axis: 2, name: `present.${l}.key` });
    const value = g.node('Concat', [past[l].value, v], { axis: 2, name: `present.${l}.value` });
    const scores = g.node('Mul', [g.node('MatMul', [q, g.node('Transpose', [repeatKv(key)], { perm: [0, 1, 3, 2] })]), scale]);
    const probs = g.node('Softmax', [g.node('Where', [allowed, scores, negLarge])], { axis: -1 });
    const attended = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [probs, repeatKv(value)])], { perm: [0, 2, 1, 3] }), g.ints([0, 0, -1])]);
    x = g.node('Add', [x, g.node('MatMul', [attended, weight(`${p}.o_proj.weightT`, H * hd, D, outStd)])]);
    const h2 = rmsnorm(x, ones(`${p}.post_attention_layernorm.weight`));
    const gate = g.node('MatMul', [h2, weight(`${p}.gate_proj.weightT`, D, F, std)]);
    const up = g.node('MatMul', [h2, weight(`${p}.up_proj.weightT`, D, F, std)]);
    const act = g.node('Mul', [g.node('Mul', [gate, g.node('Sigmoid', [gate])]), up]);
    x = g.node('Add', [x, g.node('MatMul', [act, weight(`${p}.down_proj.weightT`, F, D, outStd)])]);
  }
  g.node('MatMul', [rmsnorm(x, ones('model.norm.weight')), weight('lm_head.weightT', D, V, std)], { name: 'logits' });
  g.output('logits', 'float', ['batch_size', 'sequence_length', V]);
  for (let l = 0; l < L; l++) {
    g.output(`present.${l}.key`, 'float', ['batch_size', KV, 'total_sequence_length', hd]);
    g.output(`present.${l}.value`, 'float', ['batch_size', KV, 'total_sequence_length', hd]);
  }
  return g.encode({ opset: 17, producer: 'strata random-llama', doc: JSON.stringify(s) });
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
