/** piscina worker: assign a range of rows to heads (stage 3a), reading the saved head graph. */
import { assignRange, type AssignParams } from './assign.js';
import { HeadGraph } from './head-graph.js';

export interface AssignTask {
  graphFile: string;
  data: Float32Array;
  headVectors: Float32Array;
  dim: number;
  start: number;
  end: number;
  params: AssignParams;
  /** Shared outputs covering all rows: row r's replicas at r * replicas. */
  outHeads: Uint32Array;
  outDist: Float32Array;
}

let cached: { file: string; graph: HeadGraph } | undefined;

export default function run(task: AssignTask): number {
  if (!cached || cached.file !== task.graphFile) {
    cached = { file: task.graphFile, graph: HeadGraph.load(task.graphFile, task.dim, task.params.metric) };
  }
  const R = task.params.replicas;
  assignRange(
    task.data,
    task.dim,
    task.start,
    task.end,
    cached.graph,
    task.headVectors,
    task.params,
    task.outHeads.subarray(task.start * R, task.end * R),
    task.outDist.subarray(task.start * R, task.end * R),
  );
  return task.end - task.start;
}
