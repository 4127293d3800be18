/**
 * Embedding on a piscina pool: texts are sorted by length, cut into groups, and each group is
 * embedded by a worker thread holding its own ONNX session (embed-worker.ts). The calling thread
 * also loads the model once (config checks, the dimension, query embedding without a hand-off).
 */
import type { Piscina } from 'piscina';
import { createPool, resolveThreads } from '../util/workers.js';
import { Embedder, type EmbedderOptions } from './embedder.js';
import type { ModelConfigFile } from './model-config.js';
import { chunkAndAnalyse, type ChunkedDocument, type ChunkTask, type EmbedTask } from './embed-worker.js';
import type { ChunkOptions } from './chunker.js';

export interface EmbedderPoolOptions extends EmbedderOptions {
  /** Worker threads (0 = one per core). Default 0. */
  threads?: number;
  /** Texts per pool task. Default 128. */
  groupSize?: number;
}

export class EmbedderPool {
  private pool: Piscina | undefined;

  private constructor(
    /** The in-thread embedder: queries, and the config every worker loads. */
    readonly local: Embedder,
    private readonly overrides: ModelConfigFile,
    private readonly options: EmbedderPoolOptions,
  ) {}

  static async load(dir: string, overrides: ModelConfigFile = {}, options: EmbedderPoolOptions = {}): Promise<EmbedderPool> {
    const local = await Embedder.load(dir, overrides, { ...options, intraOpThreads: options.intraOpThreads ?? 1 });
    return new EmbedderPool(local, overrides, options);
  }

  get dimension(): number {
    return this.local.dimension;
  }

  /** Embed in this thread (for one query or a few texts, a hand-off costs more than it saves). */
  embedHere(texts: readonly string[]): Promise<Float32Array> {
    return this.local.embed(texts);
  }

  /** The fields every pool task carries: which model a worker loads, and how. */
  private modelTask(): Omit<EmbedTask, 'kind' | 'texts'> {
    return {
      dir: this.local.config.dir,
      overrides: this.overrides,
      batchSize: this.options.batchSize ?? 32,
      ...(this.options.executionProviders ? { executionProviders: this.options.executionProviders } : {}),
    };
  }

  /** Run one pool task per group of row indices; `place` stores each result, `onProgress(done)` after each. */
  private async runGroups<R>(groups: number[][], task: (rows: number[]) => EmbedTask | ChunkTask, place: (rows: number[], result: R) => void, onProgress?: (done: number) => void): Promise<void> {
    this.pool ??= createPool('rag/embed-worker', resolveThreads(this.options.threads ?? 0));
    const pool = this.pool;
    let done = 0;
    await Promise.all(
      groups.map(async (rows) => {
        place(rows, (await pool.run(task(rows))) as R);
        done += rows.length;
        onProgress?.(done);
      }),
    );
  }

  /** Embed many texts across the pool; `onProgress(done)` after each group. Row i is texts[i]. */
  async embed(texts: readonly string[], onProgress?: (done: number) => void): Promise<Float32Array> {
    const d = this.dimension;
    const out = new Float32Array(texts.length * d);
    const groupSize = this.options.groupSize ?? 128;
    if (texts.length <= groupSize / 4) {
      out.set(await this.local.embed(texts));
      onProgress?.(texts.length);
      return out;
    }
    // Sort by length so each group (and each ONNX batch in it) pads little.
    const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length);
    await this.runGroups<Float32Array>(
      cut(order, groupSize),
      (rows) => ({ kind: 'embed', ...this.modelTask(), texts: rows.map((i) => texts[i]) }),
      (rows, vectors) => rows.forEach((row, j) => out.set(vectors.subarray(j * d, (j + 1) * d), row * d)),
      onProgress,
    );
    return out;
  }

  /**
   * Chunk document bodies and analyse each chunk for BM25, across the pool (in this thread for a
   * few documents); `onProgress(done)` after each group. Entry i is bodies[i].
   */
  async chunk(bodies: readonly string[], options: ChunkOptions, onProgress?: (done: number) => void): Promise<ChunkedDocument[]> {
    const groupDocs = 32;
    if (bodies.length <= groupDocs) {
      const count = (s: string) => this.local.tokenizer.count(s);
      const out = bodies.map((b) => chunkAndAnalyse(b, count, options));
      onProgress?.(bodies.length);
      return out;
    }
    const out: ChunkedDocument[] = new Array(bodies.length);
    await this.runGroups<ChunkedDocument[]>(
      cut(bodies.map((_, i) => i), groupDocs),
      (rows) => ({ kind: 'chunk', ...this.modelTask(), bodies: rows.map((i) => bodies[i]), chunk: options }),
      (rows, docs) => rows.forEach((row, j) => (out[row] = docs[j])),
      onProgress,
    );
    return out;
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
    await this.local.close();
  }
}

/** Consecutive groups of at most `size` items. */
function cut(items: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let g = 0; g < items.length; g += size) out.push(items.slice(g, g + size));
  return out;
}
