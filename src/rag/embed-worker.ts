/**
 * Piscina worker of EmbedderPool: holds one Embedder per model (loaded at its first task, one ORT
 * thread per worker so the pool's threads do not fight over cores) and either embeds a group of
 * texts or chunks a group of documents (token counts need the model's tokenizer) and analyses each
 * chunk for BM25, so ingestion's text work runs on every core too.
 */
import { Piscina } from 'piscina';
import { termFrequencies } from './analyzer.js';
import { chunkText, type ChunkOptions } from './chunker.js';
import { Embedder } from './embedder.js';
import type { ModelConfigFile } from './model-config.js';

interface ModelTask {
  dir: string;
  overrides: ModelConfigFile;
  batchSize: number;
  executionProviders?: string[];
}

export interface EmbedTask extends ModelTask {
  kind: 'embed';
  texts: string[];
}

export interface ChunkTask extends ModelTask {
  kind: 'chunk';
  bodies: string[];
  chunk: ChunkOptions;
}

/** A document's chunks, each with its BM25 term frequencies as parallel arrays. */
export interface ChunkedDocument {
  pieces: Array<{ start: number; end: number; text: string; tokens: number }>;
  terms: Array<[string[], number[]]>;
}

/** Chunk one document body and analyse its chunks (the same code in a worker and in the caller). */
export function chunkAndAnalyse(body: string, count: (s: string) => number, options: ChunkOptions): ChunkedDocument {
  const pieces = chunkText(body, count, options);
  return {
    pieces,
    terms: pieces.map((p) => {
      const tf = termFrequencies(p.text);
      return [[...tf.keys()], [...tf.values()]];
    }),
  };
}

const loaded = new Map<string, Promise<Embedder>>();

export default async function run(task: EmbedTask | ChunkTask): Promise<unknown> {
  const key = JSON.stringify([task.dir, task.overrides, task.batchSize, task.executionProviders]);
  let e = loaded.get(key);
  if (!e) {
    e = Embedder.load(task.dir, task.overrides, { batchSize: task.batchSize, intraOpThreads: 1, executionProviders: task.executionProviders });
    loaded.set(key, e);
    e.catch(() => loaded.delete(key));
  }
  const embedder = await e;
  if (task.kind === 'chunk') {
    const count = (s: string) => embedder.tokenizer.count(s);
    return task.bodies.map((b) => chunkAndAnalyse(b, count, task.chunk));
  }
  const vectors = await embedder.embed(task.texts);
  return Piscina.move(vectors);
}
