/** piscina worker: exact search of a range of queries, results written into shared output arrays. */
import { exactSearchRange } from './exact.js';
import type { Metric } from './distance.js';

export interface ExactTask {
  base: Float32Array;
  queries: Float32Array;
  dim: number;
  metric: Metric;
  k: number;
  start: number;
  end: number;
  ids: Uint32Array;
  distances: Float32Array;
  labels?: Uint32Array;
}

export default function run(task: ExactTask): void {
  exactSearchRange(task.base, task.queries, task.dim, task.metric, task.k, task.start, task.end, task.ids, task.distances, task.labels);
}
