/**
 * The single-pass selective-recompute graph of a model (llama-graph.ts, blend variant) in an ORT
 * session: one call takes the whole prompt with a K/V cache for every position and returns the
 * logits of its last token and the patched cache. Built from the model's own weights
 * (model-weights.ts) — any model of llama-graph.ts's layout, stories260K and the generated random
 * Llamas included; another layout is STRATA_MODEL_INVALID.
 */
import * as ort from 'onnxruntime-node';
import { createError } from '../errors.js';
import { ortSessionOptions, readModelFile, type DecoderOptions } from './decoder.js';
import type { KvCache } from './kv-cache.js';
import { llamaOnnx } from './llama-graph.js';
import { llamaWeights } from './model-weights.js';

/** The layer whose K deviation chooses tokens inside the call (CacheBlend: layer 1, the first whose K depends on context). */
export const SELECT_LAYER = 1;

export interface BlendResult {
  /** The last prompt token's logits (vocab). */
  logits: Float32Array;
  /** Every prompt position's K/V, the recomputed ones fresh. */
  cache: KvCache;
  /** Prompt indices recomputed, ascending. */
  recomputed: number[];
}

export class BlendModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly layers: number,
    readonly kvHeads: number,
    readonly headDim: number,
    readonly vocab: number,
    /** Chooses extra tokens inside the call (`select` in run). */
    readonly selects: boolean,
  ) {}

  /** The blend graph of the model in `file` (selecting in-graph at SELECT_LAYER, or taking every token to recompute as given). */
  static async load(file: string, select: boolean, options: DecoderOptions = {}): Promise<BlendModel> {
    const { shape, weights } = llamaWeights(readModelFile(file));
    if (select && shape.layers <= SELECT_LAYER + 1) throw createError('STRATA_MODEL_INVALID', `onnx: in-graph selection at layer ${SELECT_LAYER} needs more than ${SELECT_LAYER + 1} layers, ${file} has ${shape.layers}`, 'onnx');
    const bytes = llamaOnnx(shape, weights, { kind: 'blend', selectLayer: select ? SELECT_LAYER : null }, { producer: 'strata blend', doc: file });
    const session = await ort.InferenceSession.create(bytes, ortSessionOptions(options));
    return new BlendModel(session, shape.layers, shape.kvHeads, shape.dim / shape.heads, shape.vocab, select);
  }

  /**
   * One call over the whole prompt: `cache` holds every position (anything where nothing was cached:
   * those positions must be in `recompute`), `recompute` the prompt indices computed fresh (the
   * last one among them), `select` how many more the call chooses itself (K deviation times the
   * attention the last token pays, at SELECT_LAYER).
   */
  async run(tokens: readonly number[], cache: KvCache, recompute: readonly number[], select = 0): Promise<BlendResult> {
    const T = tokens.length;
    if (cache.length !== T) throw createError('STRATA_INVALID_OPTION', `the cache holds ${cache.length} positions for a ${T}-token prompt`, 'cache');
    if (!recompute.includes(T - 1)) throw createError('STRATA_INVALID_OPTION', 'the last prompt token must be recomputed (its logits are the answer)', 'recompute');
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, (t) => BigInt(t)), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, (_, i) => BigInt(i)), [1, T]),
      recompute_ids: new ort.Tensor('int64', BigInt64Array.from(recompute, (i) => BigInt(i)), [recompute.length]),
    };
    if (this.selects) feeds.select_count = new ort.Tensor('int64', BigInt64Array.of(BigInt(select)), [1]);
    for (let l = 0; l < this.layers; l++) {
      feeds[`cache.${l}.key`] = new ort.Tensor('float32', cache.keys[l], [1, this.kvHeads, T, this.headDim]);
      feeds[`cache.${l}.value`] = new ort.Tensor('float32', cache.values[l], [1, this.kvHeads, T, this.headDim]);
    }
    const out = await this.session.run(feeds);
    const recomputed = Array.from(out.recomputed.data as BigInt64Array, Number);
    const all = out.logits.data as Float32Array;
    const V = this.vocab;
    const result: KvCache = { layers: this.layers, kvHeads: this.kvHeads, headDim: this.headDim, length: T, keys: [], values: [] };
    for (let l = 0; l < this.layers; l++) {
      result.keys.push(out[`present.${l}.key`].data as Float32Array);
      result.values.push(out[`present.${l}.value`].data as Float32Array);
    }
    return { logits: all.slice((recomputed.length - 1) * V, recomputed.length * V), cache: result, recomputed };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
