/**
 * piscina worker for a collection rebuild (ingest-worker.ts): builds a new index generation from a
 * snapshot of the point store, on its own thread, so the ingest thread keeps taking writes (it logs
 * them and replays them into the new generation afterwards). Closes the index before answering.
 */
import type { Attributes } from '../index/filter.js';
import type { IndexOptions } from '../index/options.js';
import { createIndex } from '../index/spann.js';

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
