/**
 * The weights and shape of an existing Llama ONNX model laid out as llama-graph.ts builds them
 * (stories260K's names: model.embed_tokens.weight, model.layers.{l}.{q,k,v,o,gate,up,down}_proj.weightT,
 * the norms, lm_head.weightT — or, tied as in stories260K, the embedding transposed —, rope_inv_freq), read with the ONNX schema's protobuf bindings — so
 * the project's graph tooling can build other variants of that very model (the blend graph), and a
 * test can check that its decoder variant reproduces the original.
 */
import onnxProto from 'onnx-proto';
import { createError } from '../errors.js';
import type { LlamaShape, WeightSource } from './llama-graph.js';

const { onnx } = onnxProto;

function floats(t: onnxProto.onnx.TensorProto): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) throw createError('STRATA_MODEL_INVALID', `onnx: initializer ${t.name} is not float32`, 'onnx');
  if (t.rawData && t.rawData.length > 0) {
    const out = new Float32Array(t.rawData.length / 4);
    new Uint8Array(out.buffer).set(t.rawData);
    return out;
  }
  return Float32Array.from(t.floatData);
}

/** rows × cols row-major -> cols × rows. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  return out;
}

/** The model's shape and a weight source serving its initializers (by name, checked against the asked dims). */
export function llamaWeights(model: Uint8Array): { shape: LlamaShape; weights: WeightSource } {
  const bad = (what: string) => createError('STRATA_MODEL_INVALID', `onnx: not a Llama of llama-graph.ts's layout: ${what}`, 'onnx');
  let graph: onnxProto.onnx.GraphProto;
  try {
    graph = onnx.ModelProto.decode(model).graph as onnxProto.onnx.GraphProto;
  } catch (err) {
    throw createError('STRATA_MODEL_INVALID', `onnx: cannot decode the model (${(err as Error).message})`, 'onnx');
  }
  const inits = new Map((graph?.initializer ?? []).map((t) => [t.name, t as onnxProto.onnx.TensorProto]));
  const dims = (name: string) => {
    const t = inits.get(name);
    if (!t) throw bad(`no initializer ${name}`);
    return t.dims.map(Number);
  };
  const [vocab, dim] = dims('model.embed_tokens.weight');
  let layers = 0;
  while (inits.has(`model.layers.${layers}.q_proj.weightT`)) layers++;
  if (layers === 0) throw bad('no layers');
  const inv = floats(inits.get('rope_inv_freq') ?? (() => { throw bad('no rope_inv_freq'); })());
  const hd = inv.length * 2;
  const heads = dims('model.layers.0.q_proj.weightT')[1] / hd;
  const kvHeads = dims('model.layers.0.k_proj.weightT')[1] / hd;
  const hidden = dims('model.layers.0.gate_proj.weightT')[1];
  // inv[i] = theta^(-2i/hd): theta from inv[1].
  const theta = inv.length > 1 ? Math.round(inv[1] ** (-hd / 2)) : 10000;
  if (!Number.isInteger(heads) || !Number.isInteger(kvHeads) || heads * hd !== dim) throw bad(`heads of size ${hd} do not divide dim ${dim}`);
  const weights: WeightSource = (name, asked) => {
    // Tied embeddings (stories260K): the output projection is the embedding transposed.
    if (name === 'lm_head.weightT' && !inits.has(name)) return transpose(floats(inits.get('model.embed_tokens.weight')!), vocab, dim);
    const got = dims(name);
    if (got.length !== asked.length || got.some((d, i) => d !== asked[i])) throw bad(`${name} is ${got.join('x')}, the graph needs ${asked.join('x')}`);
    return floats(inits.get(name)!);
  };
  return { shape: { dim, layers, heads, kvHeads, hidden, vocab, theta }, weights };
}
