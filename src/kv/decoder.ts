/**
 * A decoder-only language model with KV-cache I/O, run by onnxruntime-node. Two I/O namings are
 * recognised from the graph: `past_key_values.{i}.key|value` -> `present.{i}.key|value` (stories260K,
 * Hugging Face Optimum exports) and stacked `past_{i}` -> `present_{i}` of shape [2, batch, heads,
 * len, headDim] (onnxruntime-genai GPT-2). Batch 1. `forward` takes new tokens with their positions
 * and a past cache and returns the logits of every new token and the cache extended by them; the
 * attention mask covers past + new tokens (1 = visible), so any token of the past can be hidden.
 */
import * as ort from 'onnxruntime-node';
import { createError } from '../errors.js';
import { readFileSync } from 'node:fs';
import { emptyCache, type KvCache } from './kv-cache.js';
import { pruneOnnx } from './onnx-prune.js';

export type KvNaming = 'split' | 'stacked';

export interface DecoderOptions {
  /** ORT execution providers in order of preference. Default ['cpu'] ('cuda' where onnxruntime-node has it). */
  executionProviders?: string[];
  /** ORT intra-op threads (0 = ORT's default). Default 1: small models lose to thread overhead. */
  intraOpThreads?: number;
}

/** A model file's bytes, or STRATA_MODEL_FILE_MISSING naming it (the decoder's variants start from them). */
export function readModelFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw createError('STRATA_MODEL_FILE_MISSING', `onnx: cannot read ${file} (${(err as Error).message})`, 'onnx');
  }
}

/** The ORT session options of a decoder graph (and of its variants, blend-model.ts). */
export function ortSessionOptions(options: DecoderOptions): ort.InferenceSession.SessionOptions {
  return { executionProviders: options.executionProviders ?? ['cpu'], intraOpNumThreads: options.intraOpThreads ?? 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
}

export interface ForwardResult {
  /** seq × vocab. */
  logits: Float32Array;
  /** The past extended by the new tokens. */
  cache: KvCache;
}

export class DecoderModel {
  private constructor(
    readonly file: string,
    private readonly session: ort.InferenceSession,
    readonly naming: KvNaming,
    readonly layers: number,
    readonly kvHeads: number,
    readonly headDim: number,
    readonly vocab: number,
    private readonly intType: 'int64' | 'int32',
    private readonly hasPositions: boolean,
  ) {
    this.inputNames = new Set(session.inputNames);
  }

  private readonly inputNames: Set<string>;

  /**
   * The same model cut down to its first `layers` layers' K/V outputs (no logits): `forward` then
   * returns those layers' caches at a fraction of the cost (onnx-prune.ts).
   */
  static async loadFirstLayers(file: string, layers: number, options: DecoderOptions = {}): Promise<DecoderModel> {
    const bytes = readModelFile(file);
    const probe = await DecoderModel.load(file, options);
    const names = Array.from({ length: layers }, (_, l) => (probe.naming === 'split' ? [`present.${l}.key`, `present.${l}.value`] : [`present_${l}`])).flat();
    await probe.close();
    return DecoderModel.load(file, options, pruneOnnx(bytes, names));
  }

  static async load(file: string, options: DecoderOptions = {}, bytes?: Uint8Array): Promise<DecoderModel> {
    let session: ort.InferenceSession;
    try {
      const sessionOptions = ortSessionOptions(options);
      session = bytes ? await ort.InferenceSession.create(bytes, sessionOptions) : await ort.InferenceSession.create(file, sessionOptions);
    } catch (err) {
      const missing = /No such file|ENOENT|does not exist|Load model from .* failed/i.test((err as Error).message);
      throw createError(missing ? 'STRATA_MODEL_FILE_MISSING' : 'STRATA_MODEL_INVALID', `onnx: onnxruntime cannot load ${file} (${(err as Error).message})`, 'onnx');
    }
    const inputs = session.inputMetadata;
    const find = (name: string) => inputs.find((m) => m.name === name);
    for (const name of ['input_ids', 'attention_mask']) if (!find(name)) throw createError('STRATA_MODEL_INVALID', `onnx: ${file} has no input "${name}"`, 'onnx');
    let naming: KvNaming;
    let layers = 0;
    let shape: readonly (number | string)[] = [];
    if (find('past_key_values.0.key')) {
      naming = 'split';
      while (find(`past_key_values.${layers}.key`)) layers++;
      shape = (find('past_key_values.0.key') as { shape: readonly (number | string)[] }).shape;
    } else if (find('past_0')) {
      naming = 'stacked';
      while (find(`past_${layers}`)) layers++;
      shape = (find('past_0') as { shape: readonly (number | string)[] }).shape.slice(1);
    } else {
      throw createError('STRATA_MODEL_INVALID', `onnx: ${file} has no KV-cache inputs (past_key_values.{i}.key/value or past_{i})`, 'onnx');
    }
    const [, kvHeads, , headDim] = shape;
    if (typeof kvHeads !== 'number' || typeof headDim !== 'number') throw createError('STRATA_MODEL_INVALID', `onnx: ${file}: the KV inputs' head count and head size must be fixed dimensions`, 'onnx');
    const logits = session.outputMetadata.find((m) => m.name === 'logits') as { shape?: readonly (number | string)[] } | undefined;
    const vocab = bytes && !logits ? 0 : logits?.shape?.[2];
    if (typeof vocab !== 'number') throw createError('STRATA_MODEL_INVALID', `onnx: ${file} has no logits output with a fixed vocabulary size`, 'onnx');
    const ids = find('input_ids') as { type?: string };
    return new DecoderModel(file, session, naming, layers, kvHeads, headDim, vocab, ids.type === 'int32' ? 'int32' : 'int64', Boolean(find('position_ids')));
  }

  emptyCache(): KvCache {
    return emptyCache(this.layers, this.kvHeads, this.headDim);
  }

  private ints(values: ArrayLike<number>): BigInt64Array | Int32Array {
    if (this.intType === 'int32') return Int32Array.from(values);
    const out = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = BigInt(values[i]);
    return out;
  }

  /**
   * One ONNX call over `batch` rows of `n` new tokens each (ids, positions: batch × n; mask: batch ×
   * (past + n)), every row after the same `past` (copied per row when batch > 1). Returns the logits
   * and each layer's present K and V as [batch, heads, past + n, headDim].
   */
  private async run(ids: ArrayLike<number>, positions: ArrayLike<number>, mask: ArrayLike<number>, batch: number, n: number, past: KvCache): Promise<{ logits: Float32Array; keys: Float32Array[]; values: Float32Array[] }> {
    const H = this.kvHeads;
    const D = this.headDim;
    const P = past.length;
    const total = P + n;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor(this.intType, this.ints(ids), [batch, n]),
      attention_mask: new ort.Tensor(this.intType, this.ints(mask), [batch, total]),
    };
    if (this.hasPositions) feeds.position_ids = new ort.Tensor(this.intType, this.ints(positions), [batch, n]);
    const per = H * P * D;
    const rows = (a: Float32Array) => {
      if (batch === 1) return a;
      const out = new Float32Array(batch * per);
      for (let b = 0; b < batch; b++) out.set(a, b * per);
      return out;
    };
    for (let l = 0; l < this.layers; l++) {
      const k = rows(past.keys[l]);
      const v = rows(past.values[l]);
      if (this.naming === 'split') {
        feeds[`past_key_values.${l}.key`] = new ort.Tensor('float32', k, [batch, H, P, D]);
        feeds[`past_key_values.${l}.value`] = new ort.Tensor('float32', v, [batch, H, P, D]);
      } else {
        const both = new Float32Array(2 * batch * per);
        both.set(k, 0);
        both.set(v, batch * per);
        feeds[`past_${l}`] = new ort.Tensor('float32', both, [2, batch, H, P, D]);
      }
    }
    for (const name of Object.keys(feeds)) if (!this.inputNames.has(name)) delete feeds[name];
    const out = await this.session.run(feeds);
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < this.layers; l++) {
      if (this.naming === 'split') {
        keys.push(out[`present.${l}.key`].data as Float32Array);
        values.push(out[`present.${l}.value`].data as Float32Array);
      } else {
        const both = out[`present_${l}`].data as Float32Array;
        keys.push(both.subarray(0, batch * H * total * D));
        values.push(both.subarray(batch * H * total * D));
      }
    }
    return { logits: out.logits ? (out.logits.data as Float32Array) : new Float32Array(0), keys, values };
  }

  /**
   * Run `tokens` at `positions` after `past`. `mask` (past.length + tokens.length entries, 1 visible,
   * 0 hidden) defaults to all visible; attention is causal by index on top of it.
   */
  async forward(tokens: readonly number[], positions: readonly number[], past: KvCache = this.emptyCache(), mask?: ArrayLike<number>): Promise<ForwardResult> {
    const n = tokens.length;
    if (n === 0) throw createError('STRATA_INVALID_OPTION', 'tokens must not be empty', 'tokens');
    if (positions.length !== n) throw createError('STRATA_INVALID_OPTION', `positions has ${positions.length} entries for ${n} tokens`, 'positions');
    const total = past.length + n;
    const r = await this.run(tokens, positions, mask ?? new Array<number>(total).fill(1), 1, n, past);
    const cache = emptyCache(this.layers, this.kvHeads, this.headDim);
    cache.length = total;
    cache.keys = r.keys;
    cache.values = r.values;
    return { logits: r.logits, cache };
  }

  /**
   * Several independent continuations of one past in one call (batch rows): row r runs its tokens at
   * its positions, seeing only the first `visiblePast` tokens of `past` (the attention mask hides the
   * rest) and its own tokens causally. Returns each row's new K/V (its tokens only). The past is
   * copied once per row, so this pays off when calls, not tokens, dominate.
   */
  async forwardRows(rows: ReadonlyArray<{ tokens: readonly number[]; positions: readonly number[]; visiblePast: number }>, past: KvCache): Promise<KvCache[]> {
    const B = rows.length;
    const n = Math.max(...rows.map((r) => r.tokens.length));
    const P = past.length;
    const total = P + n;
    const ids = new Array<number>(B * n).fill(0);
    const pos = new Array<number>(B * n).fill(0);
    const mask = new Array<number>(B * total).fill(0);
    rows.forEach((r, b) => {
      for (let j = 0; j < n; j++) {
        const k = Math.min(j, r.tokens.length - 1);
        ids[b * n + j] = r.tokens[k]; // padding repeats the last token; its outputs are dropped
        pos[b * n + j] = r.positions[k] + (j - k);
      }
      for (let i = 0; i < r.visiblePast; i++) mask[b * total + i] = 1;
      for (let j = 0; j < n; j++) mask[b * total + P + j] = 1;
    });
    const out = await this.run(ids, pos, mask, B, n, past);
    const H = this.kvHeads;
    const D = this.headDim;
    return rows.map((r, b) => {
      const m = r.tokens.length;
      const c = emptyCache(this.layers, H, D);
      c.length = m;
      const rowTokens = (all: Float32Array) => {
        const t = new Float32Array(H * m * D);
        for (let h = 0; h < H; h++) {
          const from = ((b * H + h) * total + P) * D;
          t.set(all.subarray(from, from + m * D), h * m * D);
        }
        return t;
      };
      c.keys = out.keys.map(rowTokens);
      c.values = out.values.map(rowTokens);
      return c;
    });
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
