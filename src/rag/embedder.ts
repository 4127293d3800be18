/**
 * A sentence encoder run by onnxruntime-node in the calling thread: tokenise, batch by length (texts
 * sorted by token count, so padding stays small), run, pool, normalise. EmbedderPool
 * (embedder-pool.ts) spreads batches over worker threads, each holding one of these.
 *
 * Inputs fed: `input_ids`, `attention_mask`, and `token_type_ids` (zeros) when the model has it, as
 * int64 or int32, whichever the model declares. Outputs read: `sentence_embedding` as is, or
 * `last_hidden_state` pooled by mean (under the mask) or CLS.
 */
import * as ort from 'onnxruntime-node';
import { createError } from '../errors.js';
import { normalizeRows } from '../index/distance.js';
import { resolveModelConfig, type ModelConfig, type ModelConfigFile, type Pooling } from './model-config.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

export interface EmbedderOptions {
  /** Texts per ONNX run. Default 32. */
  batchSize?: number;
  /** ORT intra-op threads per session (0 = ORT's default, all cores). Default 0. */
  intraOpThreads?: number;
  /** ORT execution providers, in order of preference. Default ['cpu'] ('cuda' where onnxruntime-node has it). */
  executionProviders?: string[];
}

export class Embedder {
  private constructor(
    readonly config: ModelConfig & { dimension: number; pooling: Pooling },
    readonly tokenizer: TextTokenizer,
    private readonly session: ort.InferenceSession,
    private readonly intType: 'int64' | 'int32',
    private readonly typeIds: boolean,
    private readonly batchSize: number,
  ) {}

  /** Load the encoder in `dir` (see model-config.ts) and check its inputs, outputs and dimension. */
  static async load(dir: string, overrides: ModelConfigFile = {}, options: EmbedderOptions = {}): Promise<Embedder> {
    const config = resolveModelConfig(dir, overrides);
    const tokenizer = loadTokenizer(config.tokenizer);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(config.onnx, {
        executionProviders: options.executionProviders ?? ['cpu'],
        ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads, interOpNumThreads: 1 } : {}),
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw createError('STRATA_MODEL_INVALID', `onnx: onnxruntime cannot load ${config.onnx} (${(err as Error).message})`, 'onnx');
    }
    for (const name of ['input_ids', 'attention_mask']) {
      if (!session.inputNames.includes(name)) throw createError('STRATA_MODEL_INVALID', `onnx: ${config.onnx} has no input "${name}" (inputs: ${session.inputNames.join(', ')})`, 'onnx');
    }
    const idsMeta = session.inputMetadata.find((m) => m.name === 'input_ids');
    const intType = idsMeta?.isTensor && idsMeta.type === 'int32' ? 'int32' : 'int64';
    const pooling = config.pooling ?? (session.outputNames.includes('sentence_embedding') ? 'sentence_embedding' : 'mean');
    const output = pooling === 'sentence_embedding' ? 'sentence_embedding' : 'last_hidden_state';
    if (!session.outputNames.includes(output)) {
      throw createError('STRATA_MODEL_INVALID', `pooling: ${pooling} needs the output "${output}", the model has ${session.outputNames.join(', ')}`, 'pooling');
    }
    const e = new Embedder(
      { ...config, pooling, dimension: config.dimension ?? 0 },
      tokenizer,
      session,
      intType,
      session.inputNames.includes('token_type_ids'),
      options.batchSize ?? 32,
    );
    // The dimension the model really produces, from one probe run; a configured one must agree.
    const probe = await e.runBatch([tokenizer.encode('dimension probe').slice(0, config.maxLength)]);
    if (config.dimension !== undefined && probe.dim !== config.dimension) {
      throw createError('STRATA_MODEL_MISMATCH', `dimension: the config of ${config.dir} says ${config.dimension}, the model outputs ${probe.dim}`, 'dimension');
    }
    e.config.dimension = probe.dim;
    return e;
  }

  get dimension(): number {
    return this.config.dimension;
  }

  /** Token ids fed to the model for `text` (special tokens added, truncated to maxLength). */
  tokenize(text: string): number[] {
    const ids = this.tokenizer.encode(text, true);
    if (ids.length <= this.config.maxLength) return ids;
    // Keep the closing special token(s) when truncating: [CLS] a b ... [SEP].
    const tail = Math.floor(this.tokenizer.specialTokens / 2);
    return [...ids.slice(0, this.config.maxLength - tail), ...ids.slice(ids.length - tail)];
  }

  /** One vector per text, row-major (texts.length × dimension). */
  async embed(texts: readonly string[]): Promise<Float32Array> {
    const d = this.dimension;
    const out = new Float32Array(texts.length * d);
    const tokens = texts.map((t) => this.tokenize(t));
    // A text with no tokens (empty, or nothing the tokenizer keeps) gets the zero vector.
    const order = tokens.map((_, i) => i).filter((i) => tokens[i].length > 0).sort((a, b) => tokens[a].length - tokens[b].length);
    for (let b = 0; b < order.length; b += this.batchSize) {
      const rows = order.slice(b, b + this.batchSize);
      const { vectors } = await this.runBatch(rows.map((i) => tokens[i]));
      rows.forEach((row, j) => out.set(vectors.subarray(j * d, (j + 1) * d), row * d));
    }
    return out;
  }

  /** Run one padded batch; returns pooled (and normalised) vectors. */
  private async runBatch(batch: number[][]): Promise<{ vectors: Float32Array; dim: number }> {
    const n = batch.length;
    const len = Math.max(1, ...batch.map((t) => t.length));
    const big = this.intType === 'int64';
    const ids = big ? new BigInt64Array(n * len) : new Int32Array(n * len);
    const mask = big ? new BigInt64Array(n * len) : new Int32Array(n * len);
    if (this.tokenizer.padId !== 0) ids.fill((big ? BigInt(this.tokenizer.padId) : this.tokenizer.padId) as never);
    for (let r = 0; r < n; r++) {
      const t = batch[r];
      for (let j = 0; j < t.length; j++) {
        if (big) {
          (ids as BigInt64Array)[r * len + j] = BigInt(t[j]);
          (mask as BigInt64Array)[r * len + j] = 1n;
        } else {
          (ids as Int32Array)[r * len + j] = t[j];
          (mask as Int32Array)[r * len + j] = 1;
        }
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor(this.intType, ids, [n, len]),
      attention_mask: new ort.Tensor(this.intType, mask, [n, len]),
    };
    if (this.typeIds) feeds.token_type_ids = new ort.Tensor(this.intType, big ? new BigInt64Array(n * len) : new Int32Array(n * len), [n, len]);
    const pooling = this.config.pooling;
    const outName = pooling === 'sentence_embedding' ? 'sentence_embedding' : 'last_hidden_state';
    const result = await this.session.run(feeds, [outName]);
    const tensor = result[outName];
    const data = tensor.data as Float32Array;
    let vectors: Float32Array;
    let dim: number;
    if (pooling === 'sentence_embedding') {
      dim = tensor.dims[1];
      vectors = new Float32Array(data);
    } else {
      dim = tensor.dims[2];
      vectors = new Float32Array(n * dim);
      for (let r = 0; r < n; r++) {
        const rowLen = batch[r].length;
        const o = r * dim;
        if (pooling === 'cls') {
          vectors.set(data.subarray(r * len * dim, r * len * dim + dim), o);
          continue;
        }
        for (let j = 0; j < rowLen; j++) {
          const base = (r * len + j) * dim;
          for (let k = 0; k < dim; k++) vectors[o + k] += data[base + k];
        }
        const inv = 1 / Math.max(1, rowLen);
        for (let k = 0; k < dim; k++) vectors[o + k] *= inv;
      }
    }
    for (const t of Object.values(result)) t.dispose?.();
    if (this.config.normalize) normalizeRows(vectors, dim);
    return { vectors, dim };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
