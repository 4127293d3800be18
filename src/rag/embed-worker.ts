/**
 * Piscina worker of EmbedderPool: holds one Embedder per model (loaded at its first task, one ORT
 * thread per worker so the pool's threads do not fight over cores) and embeds a group of texts.
 */
import { Piscina } from 'piscina';
import { Embedder } from './embedder.js';
import type { ModelConfigFile } from './model-config.js';

export interface EmbedTask {
  dir: string;
  overrides: ModelConfigFile;
  batchSize: number;
  executionProviders?: string[];
  texts: string[];
}

const loaded = new Map<string, Promise<Embedder>>();

export default async function embed(task: EmbedTask): Promise<unknown> {
  const key = JSON.stringify([task.dir, task.overrides, task.batchSize, task.executionProviders]);
  let e = loaded.get(key);
  if (!e) {
    e = Embedder.load(task.dir, task.overrides, { batchSize: task.batchSize, intraOpThreads: 1, executionProviders: task.executionProviders });
    loaded.set(key, e);
    e.catch(() => loaded.delete(key));
  }
  const vectors = await (await e).embed(task.texts);
  return Piscina.move(vectors);
}
