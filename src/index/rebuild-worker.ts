/**
 * piscina worker of a generation rebuild (generations.ts): builds a new index generation from a
 * snapshot, on its own thread, so the caller's thread keeps taking writes (it logs
 * them and replays them into the new generation afterwards). Closes the index before answering.
 */
import type { Attributes } from './filter.js';
import type { IndexOptions } from './options.js';
import { createIndex } from './spann.js';

export interface RebuildTask {
  dir: string;
  options: IndexOptions;
  ids: Uint32Array;
  vectors: Float32Array;
  tenants: string[];
  attributes: Array<Attributes | null>;
}

export default async function rebuild(task: RebuildTask): Promise<{ count: number }> {
  const index = await createIndex(task.dir, task.options);
  try {
    await index.build(task.vectors, task.ids, { tenants: task.tenants, attributes: task.attributes });
    return { count: index.count };
  } finally {
    await index.close();
  }
}
