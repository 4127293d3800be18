/**
 * Llama decoder graphs (ONNX, opset 17) built by the project's graph tooling (util/onnx-builder.ts
 * on onnx-proto) from a weight source: random weights (random-llama.ts) or the initializers of an
 * existing model of the same layout (model-weights.ts: stories260K). Two variants:
 *
 *   decoder  stories260K's I/O: input_ids, attention_mask, position_ids, past_key_values.{l}.key/value
 *            -> logits, present.{l}.key/value. llama2.c's interleaved RoPE applied before the cache,
 *            grouped-query attention, RMSNorm, SwiGLU.
 *   blend    single-pass selective recompute (CacheBlend's algorithm) for B = 1: takes the whole
 *            prompt's tokens and positions and a K/V cache for every prompt position (re-rotated
 *            chunk caches; anything where no cache exists), and computes fresh Q/K/V only for the
 *            tokens to recompute — in every layer — patching them into that layer's K/V before the
 *            layer attends over the patched cache. The tokens: `recompute_ids` (given: the suffix,
 *            Cache-Craft's choice from stored statistics) plus, with `selectLayer`, `select_count`
 *            more chosen inside the same call — layers below selectLayer run on every token, and
 *            selectLayer's K/V too; the tokens whose fresh K there deviates most from the cached K,
 *            weighted by the attention the last prompt token pays them there, are recomputed in
 *            the rest of that layer and the layers above. One ORT call per prompt. Outputs: logits of the recomputed tokens,
 *            `recomputed` (their prompt indices, ascending) and present.{l}.key/value (the patched
 *            caches, every prompt position).
 *
 * Layer (B batch, S tokens computed, T keys): h = rmsnorm(x); q, k, v = h Wq, h Wk, h Wv; q, k
 * rotated by position; k, v into the cache; key j visible to query i iff j <= i's prompt index and
 * attention_mask[j] = 1; x += softmax(q k^T / sqrt(hd)) v Wo; x += (silu(rmsnorm(x) Wg) * rmsnorm(x)
 * Wu) Wd; logits = rmsnorm(x) W_lm.
 */
import { elemTypeId, GraphBuilder } from '../util/onnx-builder.js';

export interface LlamaShape {
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  hidden: number;
  vocab: number;
  theta: number;
}

/**
 * The weights of a graph, asked for in a fixed order (embedding; per layer: input norm, q, k, v, o,
 * post-attention norm, gate, up, down; final norm; lm head), each by name and [rows, cols] (norms:
 * [dim]); `std` is the scale a random source draws with.
 */
export type WeightSource = (name: string, dims: readonly number[], kind: 'embedding' | 'matrix' | 'norm', std: number) => Float32Array;

export type LlamaVariant = { kind: 'decoder' } | { kind: 'blend'; selectLayer: number | null };

/** The ONNX bytes of a Llama of `shape` with `weights`. */
export function llamaOnnx(shape: LlamaShape, weights: WeightSource, variant: LlamaVariant, meta: { producer: string; doc: string }): Uint8Array {
  const { dim: D, layers: L, heads: H, kvHeads: KV, hidden: F, vocab: V } = shape;
  const hd = D / H;
  const blend = variant.kind === 'blend';
  const selectLayer = variant.kind === 'blend' ? variant.selectLayer : null;
  const g = new GraphBuilder(blend ? 'llama-blend' : 'llama');
  const std = 0.02;
  const outStd = 0.02 / Math.sqrt(2 * L); // GPT-2/llama2.c scaling of the residual projections
  const init = (name: string, dims: number[], kind: 'embedding' | 'matrix' | 'norm', s: number) => g.initializer(name, 'float', dims, weights(name, dims, kind, s));

  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positions = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const cache = Array.from({ length: L }, (_, l) =>
    blend
      ? { key: g.input(`cache.${l}.key`, 'float', ['batch_size', KV, 'sequence_length', hd]), value: g.input(`cache.${l}.value`, 'float', ['batch_size', KV, 'sequence_length', hd]) }
      : { key: g.input(`past_key_values.${l}.key`, 'float', ['batch_size', KV, 'past_sequence_length', hd]), value: g.input(`past_key_values.${l}.value`, 'float', ['batch_size', KV, 'past_sequence_length', hd]) },
  );
  const given = blend ? g.input('recompute_ids', 'int64', ['recompute_length']) : '';
  const selectCount = blend && selectLayer !== null ? g.input('select_count', 'int64', [1]) : '';

  const embed = init('model.embed_tokens.weight', [V, D], 'embedding', 1);
  let x = g.node('Gather', [embed, ids], { axis: 0 });

  const invFreq = g.initializer('rope_inv_freq', 'float', [hd / 2], Float32Array.from({ length: hd / 2 }, (_, i) => shape.theta ** ((-2 * i) / hd)));
  /** RoPE cos/sin of int64 positions [B, S]  ->  [B, 1, S, hd/2]. */
  const angles = (pos: string) => {
    const a = g.node('Mul', [g.node('Unsqueeze', [g.node('Cast', [pos], { to: elemTypeId('float') }), g.ints([1, 3])]), invFreq]);
    return { cos: g.node('Cos', [a]), sin: g.node('Sin', [a]) };
  };
  const scalarAt = (t: string, i: number) => g.node('Gather', [g.node('Shape', [t]), g.ints([i], true)], { axis: 0 });
  const negLarge = g.float(-1e9);
  const scale = g.float(1 / Math.sqrt(hd));
  const eps = g.float(1e-5);
  const maskBool = g.node('Unsqueeze', [g.node('Cast', [mask], { to: elemTypeId('bool') }), g.ints([1, 2])]); // [B, 1, 1, T]
  /** Which key each query may see: key j <= the query's prompt index, and the mask. [B, 1, S, T]. */
  const visibility = (queryIdx: string, T: string) => {
    const keyIdx = g.node('Range', [g.ints([0], true), T, g.ints([1], true)]);
    const causal = g.node('LessOrEqual', [g.node('Unsqueeze', [keyIdx, g.ints([0])]), g.node('Unsqueeze', [queryIdx, g.ints([1])])]);
    return g.node('And', [causal, maskBool]);
  };

  const rmsnorm = (t: string, w: string) => {
    const ms = g.node('ReduceMean', [g.node('Mul', [t, t])], { axes: [-1], keepdims: 1 });
    return g.node('Mul', [g.node('Mul', [t, g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [ms, eps])])])]), w]);
  };
  const heads = (t: string, n: number) => g.node('Transpose', [g.node('Reshape', [t, g.ints([0, 0, n, hd])])], { perm: [0, 2, 1, 3] });
  const rope = (t: string, r: { cos: string; sin: string }) => {
    const pairs = g.node('Reshape', [t, g.ints([0, 0, 0, -1, 2])]);
    const a = g.node('Gather', [pairs, g.ints([0], true)], { axis: -1 });
    const b = g.node('Gather', [pairs, g.ints([1], true)], { axis: -1 });
    const ra = g.node('Sub', [g.node('Mul', [a, r.cos]), g.node('Mul', [b, r.sin])]);
    const rb = g.node('Add', [g.node('Mul', [a, r.sin]), g.node('Mul', [b, r.cos])]);
    const joined = g.node('Concat', [g.node('Unsqueeze', [ra, g.ints([-1])]), g.node('Unsqueeze', [rb, g.ints([-1])])], { axis: -1 });
    return g.node('Reshape', [joined, g.ints([0, 0, 0, -1])]);
  };
  const repeatKv = (t: string) => (H === KV ? t : g.node('Reshape', [g.node('Tile', [g.node('Unsqueeze', [t, g.ints([2])]), g.ints([1, 1, H / KV, 1, 1])]), g.ints([0, H, -1, hd])]));
  /** k, v [B, KV, S, hd] written into cache [B, KV, T, hd] at prompt indices idx [S] (blend). */
  const patchIndices = new Map<string, string>();
  const patch = (c: string, t: string, idx: string) => {
    // ScatterND of whole head_dim rows straight into the [1, KV, T, hd] cache (B = 1): indices
    // [KV, S, 3] = (0, head, idx[s]), made once per set of rows — no transpose of the whole cache.
    let where = patchIndices.get(idx);
    if (!where) {
      const S = g.node('Shape', [idx]);
      const grid = g.node('Concat', [g.ints([KV]), S], { axis: 0 }); // [KV, S]
      const head = g.node('Expand', [g.node('Reshape', [g.node('Range', [g.ints([0], true), g.ints([KV], true), g.ints([1], true)]), g.ints([KV, 1])]), grid]);
      const row = g.node('Expand', [g.node('Reshape', [idx, g.ints([1, -1])]), grid]);
      const zero = g.node('Mul', [head, g.ints([0], true)]);
      where = g.node('Concat', [zero, head, row].map((x) => g.node('Unsqueeze', [x, g.ints([2])])), { axis: 2 });
      patchIndices.set(idx, where);
    }
    return g.node('ScatterND', [c, where, g.node('Reshape', [t, g.ints([KV, -1, hd])])]);
  };

  // Which tokens this call computes: the decoder computes every new token (query i at past + i); the
  // blend graph every prompt token up to selectLayer (or none but the given ones without it), then
  // the given and selected ones.
  // The tokens of the call sit at prompt indices [P, T): P the past's length (decoder) or 0 (blend).
  const S0 = scalarAt(ids, 1);
  const P = blend ? g.ints([0], true) : scalarAt(cache[0].key, 2);
  const T = blend ? S0 : g.node('Add', [P, S0]);
  let rows: { idx: string; allowed: string; rope: { cos: string; sin: string } } = { idx: '', allowed: visibility(g.node('Range', [P, T, g.ints([1], true)]), T), rope: angles(positions) };
  /** Rows [idx] of the prompt: their hidden states, positions and visibility. */
  const subset = (idx: string) => {
    x = g.node('Gather', [x, idx], { axis: 1 });
    rows = { idx, allowed: visibility(idx, T), rope: angles(g.node('Gather', [positions, idx], { axis: 1 })) };
  };
  if (blend && selectLayer === null) subset(given);

  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const norm = init(`${p}.input_layernorm.weight`, [D], 'norm', 0);
    const wq = init(`${p}.q_proj.weightT`, [D, H * hd], 'matrix', std);
    const wk = init(`${p}.k_proj.weightT`, [D, KV * hd], 'matrix', std);
    const wv = init(`${p}.v_proj.weightT`, [D, KV * hd], 'matrix', std);
    let h = rmsnorm(x, norm);
    const k = rope(heads(g.node('MatMul', [h, wk]), KV), rows.rope);
    const v = heads(g.node('MatMul', [h, wv]), KV);
    let key: string;
    let value: string;
    if (!blend) {
      key = g.node('Concat', [cache[l].key, k], { axis: 2, name: `present.${l}.key` });
      value = g.node('Concat', [cache[l].value, v], { axis: 2, name: `present.${l}.value` });
    } else if (rows.idx === '') {
      // Every prompt token's K/V is computed in this layer: they are the layer's cache.
      key = g.node('Identity', [k], { name: `present.${l}.key` });
      value = g.node('Identity', [v], { name: `present.${l}.value` });
    } else {
      key = g.node('Identity', [patch(cache[l].key, k, rows.idx)], { name: `present.${l}.key` });
      value = g.node('Identity', [patch(cache[l].value, v, rows.idx)], { name: `present.${l}.value` });
    }
    if (blend && selectLayer === l) {
      // CacheBlend's selection made query-aware: a token's score is how far its fresh K in this layer
      // deviates from the cached K (squared, summed over heads and dims) times the attention the
      // prompt's last token pays it here (mean over heads) — a deviation matters as much as the
      // answer looks at it. The given ones always (their score raised past any). Only K/V (the
      // layer's cache, fresh for every token) and the last token's query are computed for all; the
      // rest of this layer and the layers above run on the chosen tokens only.
      const last = g.node('Sub', [T, g.ints([1], true)]);
      const lastIdx = g.node('Reshape', [last, g.ints([1])]);
      const qLast = rope(heads(g.node('MatMul', [g.node('Gather', [h, lastIdx], { axis: 1 }), wq]), H), angles(g.node('Gather', [positions, lastIdx], { axis: 1 })));
      const lastScores = g.node('Mul', [g.node('MatMul', [qLast, g.node('Transpose', [repeatKv(key)], { perm: [0, 1, 3, 2] })]), scale]);
      const lastProbs = g.node('Softmax', [g.node('Where', [visibility(lastIdx, T), lastScores, negLarge])], { axis: -1 }); // [B, H, 1, T]
      const attention = g.node('ReduceMean', [lastProbs], { axes: [1, 2], keepdims: 0 }); // [B, T]
      const diff = g.node('Sub', [k, cache[l].key]);
      const deviation = g.node('ReduceSum', [g.node('Mul', [diff, diff]), g.ints([1, 3])], { keepdims: 0 }); // [B, T]
      const score = g.node('ScatterND', [g.node('Squeeze', [g.node('Mul', [deviation, attention]), g.ints([0])]), g.node('Unsqueeze', [given, g.ints([1])]), g.node('Expand', [g.float(3e38), g.node('Shape', [given])])]);
      const want = g.node('Min', [g.node('Add', [g.node('Shape', [given]), selectCount]), g.node('Reshape', [T, g.ints([1])])]);
      const chosen = g.nodeOutputs('TopK', [score, want], 2, { axis: 0, largest: 1, sorted: 1 })[1];
      // Ascending prompt order (TopK on the indices themselves, smallest first).
      const ordered = g.node('Cast', [g.nodeOutputs('TopK', [g.node('Cast', [chosen], { to: elemTypeId('float') }), want], 2, { axis: 0, largest: 0, sorted: 1 })[0]], { to: elemTypeId('int64') });
      h = g.node('Gather', [h, ordered], { axis: 1 });
      subset(ordered);
    }
    const q = rope(heads(g.node('MatMul', [h, wq]), H), rows.rope);
    const scores = g.node('Mul', [g.node('MatMul', [q, g.node('Transpose', [repeatKv(key)], { perm: [0, 1, 3, 2] })]), scale]);
    const probs = g.node('Softmax', [g.node('Where', [rows.allowed, scores, negLarge])], { axis: -1 });
    const attended = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [probs, repeatKv(value)])], { perm: [0, 2, 1, 3] }), g.ints([0, 0, -1])]);
    x = g.node('Add', [x, g.node('MatMul', [attended, init(`${p}.o_proj.weightT`, [H * hd, D], 'matrix', outStd)])]);
    const h2 = rmsnorm(x, init(`${p}.post_attention_layernorm.weight`, [D], 'norm', 0));
    const gate = g.node('MatMul', [h2, init(`${p}.gate_proj.weightT`, [D, F], 'matrix', std)]);
    const up = g.node('MatMul', [h2, init(`${p}.up_proj.weightT`, [D, F], 'matrix', std)]);
    const act = g.node('Mul', [g.node('Mul', [gate, g.node('Sigmoid', [gate])]), up]);
    x = g.node('Add', [x, g.node('MatMul', [act, init(`${p}.down_proj.weightT`, [F, D], 'matrix', outStd)])]);
  }
  g.node('MatMul', [rmsnorm(x, init('model.norm.weight', [D], 'norm', 0)), init('lm_head.weightT', [D, V], 'matrix', std)], { name: 'logits' });
  g.output('logits', 'float', ['batch_size', 'sequence_length', V]);
  if (blend) g.output(g.node('Identity', [rows.idx === '' ? g.node('Range', [g.ints([0], true), T, g.ints([1], true)]) : rows.idx], { name: 'recomputed' }), 'int64', ['recompute_length'], 'recomputed');
  for (let l = 0; l < L; l++) {
    g.output(`present.${l}.key`, 'float', ['batch_size', KV, 'total_sequence_length', hd]);
    g.output(`present.${l}.value`, 'float', ['batch_size', KV, 'total_sequence_length', hd]);
  }
  return g.encode({ opset: 17, producer: meta.producer, doc: meta.doc });
}
