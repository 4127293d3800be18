/**
 * Cut an ONNX model down to the nodes that some outputs need (onnxruntime runs every node of a graph
 * whatever outputs are fetched). Used to run only a decoder's first layers: CacheBlend's check of
 * which tokens' K/V deviate needs layer 1's K/V, i.e. 2/L of a prefill instead of all of it.
 *
 * Decoded and re-encoded with the ONNX schema's protobuf bindings (onnx-proto); nodes, graph inputs,
 * outputs and initializers nobody needs are dropped, everything else is kept as it was. Subgraphs
 * (If/Loop bodies) are kept whole with their node.
 */
import onnxProto from 'onnx-proto';
import { createError } from '../errors.js';

const { onnx } = onnxProto;

/** The model with only the nodes, inputs and initializers that `keepOutputs` need. */
export function pruneOnnx(model: Uint8Array, keepOutputs: readonly string[]): Uint8Array {
  let decoded: onnxProto.onnx.ModelProto;
  try {
    decoded = onnx.ModelProto.decode(model);
  } catch (err) {
    throw createError('STRATA_MODEL_INVALID', `onnx: cannot decode the model (${(err as Error).message})`, 'onnx');
  }
  const graph = decoded.graph as onnxProto.onnx.GraphProto | null;
  if (!graph) throw createError('STRATA_MODEL_INVALID', 'onnx: the model has no graph', 'onnx');
  const outputNames = (graph.output as onnxProto.onnx.ValueInfoProto[]).map((o) => o.name);
  for (const o of keepOutputs) if (!outputNames.includes(o)) throw createError('STRATA_MODEL_INVALID', `onnx: the graph has no output ${o}`, 'onnx');
  const producer = new Map<string, number>();
  (graph.node as onnxProto.onnx.NodeProto[]).forEach((n, i) => n.output.forEach((o) => producer.set(o, i)));
  // Walk back from the kept outputs. (A node's subgraph may read outer names; those nodes are kept
  // whole, and their implicit inputs are conservatively not traced: decoders exported for KV I/O have none.)
  const needed = new Set<string>();
  const keepNode = new Set<number>();
  const stack = [...keepOutputs];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (needed.has(name)) continue;
    needed.add(name);
    const i = producer.get(name);
    if (i === undefined || keepNode.has(i)) continue;
    keepNode.add(i);
    for (const inp of (graph.node[i] as onnxProto.onnx.NodeProto).input) if (inp !== '') stack.push(inp);
  }
  graph.node = graph.node.filter((_, i) => keepNode.has(i));
  graph.output = graph.output.filter((o) => keepOutputs.includes(o.name as string));
  graph.input = graph.input.filter((v) => needed.has(v.name as string));
  graph.initializer = graph.initializer.filter((t) => needed.has(t.name as string));
  return onnx.ModelProto.encode(decoded).finish();
}
