/**
 * Cut an ONNX model down to the nodes that some outputs need (onnxruntime runs every node of a graph
 * whatever outputs are fetched). Used to run only a decoder's first layers: CacheBlend's check of
 * which tokens' K/V deviate needs layer 1's K/V, i.e. 2/L of a prefill instead of all of it.
 *
 * Works on the protobuf wire format (protobuf.ts), with no schema beyond the field numbers it touches
 * (onnx.proto): ModelProto.graph = 7; GraphProto.node = 1, initializer = 5, input = 11,
 * output = 12; NodeProto.input = 1, output = 2; TensorProto.name = 8; ValueInfoProto.name = 1.
 * Every other field is copied byte for byte. Subgraphs (If/Loop bodies) are kept whole with their node.
 */
import { createError } from '../errors.js';
import { concatBytes, encodeMessage, readFields } from './protobuf.js';

const text = new TextDecoder();
const strings = (msg: Uint8Array, num: number) => readFields(msg).filter((f) => f.num === num && f.body).map((f) => text.decode(f.body));

/** The model with only the nodes, inputs and initializers that `keepOutputs` need. */
export function pruneOnnx(model: Uint8Array, keepOutputs: readonly string[]): Uint8Array {
  const top = readFields(model);
  const graphField = top.find((f) => f.num === 7);
  if (!graphField?.body) throw createError('STRATA_MODEL_INVALID', 'onnx: the model has no graph', 'onnx');
  const graph = readFields(graphField.body);
  const outputs = graph.filter((f) => f.num === 12);
  const outputNames = outputs.map((f) => strings(f.body as Uint8Array, 1)[0]);
  for (const o of keepOutputs) if (!outputNames.includes(o)) throw createError('STRATA_MODEL_INVALID', `onnx: the graph has no output ${o}`, 'onnx');
  const nodes = graph.filter((f) => f.num === 1).map((f) => ({ f, inputs: strings(f.body as Uint8Array, 1), outputs: strings(f.body as Uint8Array, 2) }));
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
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
    for (const inp of nodes[i].inputs) if (inp !== '') stack.push(inp);
  }
  const nodeIndex = new Map(nodes.map((n, i) => [n.f, i]));
  const kept = graph.filter((f) => {
    if (f.num === 1) return keepNode.has(nodeIndex.get(f) as number);
    if (f.num === 12) return keepOutputs.includes(strings(f.body as Uint8Array, 1)[0]);
    if (f.num === 11) return needed.has(strings(f.body as Uint8Array, 1)[0]);
    if (f.num === 5) return needed.has(strings(f.body as Uint8Array, 8)[0]);
    return true;
  });
  const newGraph = encodeMessage([[7, concatBytes(kept.map((f) => f.raw))]]);
  return concatBytes(top.map((f) => (f === graphField ? newGraph : f.raw)));
}
