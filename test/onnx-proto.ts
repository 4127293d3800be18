/**
 * ONNX files for the tests, on the wire format of src/kv/protobuf.ts: read a model's initializers
 * (the GloVe table the encoder test checks against) and write a tiny BERT-shaped encoder (the path a MiniLM/bge model takes: Hugging Face
 * tokenizer, token_type_ids, last_hidden_state, mean pooling). Field numbers from onnx.proto.
 */

import { encodeMessage, readFields, readPackedVarints } from '../src/kv/protobuf.js';

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** Float initializers of an ONNX model (ModelProto.graph.initializer). */
export function readInitializers(file: Uint8Array): Initializer[] {
  // A plain Uint8Array view: a Node Buffer's slice() shares memory instead of copying.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const graph = readFields(bytes).find((f) => f.num === 7)?.body as Uint8Array;
  const out: Initializer[] = [];
  for (const init of readFields(graph)) {
    if (init.num !== 5) continue;
    const t: Initializer = { name: '', dims: [], data: new Float32Array(0) };
    let type = 0;
    let raw: Uint8Array | null = null;
    for (const f of readFields(init.body as Uint8Array)) {
      if (f.num === 1 && f.value !== undefined) t.dims.push(f.value);
      else if (f.num === 1 && f.body) t.dims.push(...readPackedVarints(f.body));
      else if (f.num === 2) type = f.value ?? 0;
      else if (f.num === 8) t.name = new TextDecoder().decode(f.body);
      else if (f.num === 9 || f.num === 4) raw = f.body ?? null; // raw_data, or packed float_data
    }
    if (type === 1 && raw) {
      t.data = new Float32Array(raw.slice().buffer);
      out.push(t);
    }
  }
  return out;
}

// ---- writing ---------------------------------------------------------------------------------------
const FLOAT = 1;
const INT64 = 7;

function tensor(name: string, dims: number[], data: Float32Array): Uint8Array {
  return encodeMessage([...dims.map((d) => [1, d] as [number, number]), [2, FLOAT], [8, name], [9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]]);
}

function valueInfo(name: string, elemType: number, shape: Array<number | string>): Uint8Array {
  const dims = shape.map((d) => [1, encodeMessage([typeof d === 'number' ? [1, d] : [2, d]])] as [number, Uint8Array]);
  const tensorType = encodeMessage([
    [1, elemType],
    [2, encodeMessage(dims)],
  ]);
  return encodeMessage([
    [1, name],
    [2, encodeMessage([[1, tensorType]])],
  ]);
}

function node(op: string, inputs: string[], outputs: string[], name: string): Uint8Array {
  return encodeMessage([...inputs.map((i) => [1, i] as [number, string]), ...outputs.map((o) => [2, o] as [number, string]), [3, name], [4, op]]);
}

/**
 * A BERT-shaped toy encoder: last_hidden_state[b, s] = words[input_ids[b, s]] + types[token_type_ids[b, s]].
 * Inputs input_ids, attention_mask (unused by the graph: pooling applies it), token_type_ids, all int64.
 */
export function toyBertEncoder(words: Float32Array, types: Float32Array, vocab: number, dim: number): Uint8Array {
  const graph = encodeMessage([
    [1, node('Gather', ['words', 'input_ids'], ['w'], 'gather_words')],
    [1, node('Gather', ['types', 'token_type_ids'], ['t'], 'gather_types')],
    [1, node('Add', ['w', 't'], ['last_hidden_state'], 'add')],
    [2, 'toy-bert'],
    [5, tensor('words', [vocab, dim], words)],
    [5, tensor('types', [2, dim], types)],
    [11, valueInfo('input_ids', INT64, ['batch', 'sequence'])],
    [11, valueInfo('attention_mask', INT64, ['batch', 'sequence'])],
    [11, valueInfo('token_type_ids', INT64, ['batch', 'sequence'])],
    [12, valueInfo('last_hidden_state', FLOAT, ['batch', 'sequence', dim])],
  ]);
  return encodeMessage([
    [1, 8],
    [7, graph],
    [8, encodeMessage([[2, 13]])],
  ]);
}
