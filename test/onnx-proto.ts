/**
 * ONNX files for the tests, through the ONNX schema's protobuf bindings (onnx-proto) and the
 * project's graph builder: read a model's float initializers (the GloVe table the encoder test checks
 * against; float16 decoded) and write a tiny BERT-shaped encoder (the path a MiniLM/bge model takes:
 * Hugging Face tokenizer, token_type_ids, last_hidden_state, mean pooling).
 */
import onnxProto from 'onnx-proto';
import { decodeFloat16 } from '../src/util/float16.js';
import { GraphBuilder } from '../src/util/onnx-builder.js';

const { onnx } = onnxProto;

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** Float initializers of an ONNX model: float32, float16 and int8 (the codes, as float32). */
export function readInitializers(file: Uint8Array): Initializer[] {
  const model = onnx.ModelProto.decode(file);
  const out: Initializer[] = [];
  for (const t of model.graph?.initializer ?? []) {
    const raw = Uint8Array.prototype.slice.call(t.rawData); // an aligned copy (Buffer#slice would share memory)
    const dims = (t.dims ?? []).map(Number);
    const name = t.name ?? '';
    if (t.dataType === onnx.TensorProto.DataType.FLOAT) out.push({ name, dims, data: new Float32Array(raw.buffer) });
    else if (t.dataType === onnx.TensorProto.DataType.FLOAT16) {
      const data = new Float32Array(raw.length / 2);
      decodeFloat16(new Uint16Array(raw.buffer), data);
      out.push({ name, dims, data });
    } else if (t.dataType === onnx.TensorProto.DataType.INT8) out.push({ name, dims, data: Float32Array.from(new Int8Array(raw.buffer)) });
  }
  return out;
}

/** The word table of a GloVe encoder (glove-encoder.ts), whichever way it is stored. */
export function gloveTable(file: Uint8Array): Float32Array {
  const inits = readInitializers(file);
  const table = inits.find((i) => i.dims.length === 2) as Initializer;
  const scales = inits.find((i) => i.name.endsWith('.scales'));
  if (!scales) return table.data;
  const d = table.dims[1];
  return table.data.map((c, i) => c * scales.data[Math.floor(i / d)]);
}

/**
 * A BERT-shaped toy encoder: last_hidden_state[b, s] = words[input_ids[b, s]] + types[token_type_ids[b, s]].
 * Inputs input_ids, attention_mask (unused by the graph: pooling applies it), token_type_ids, all int64.
 */
export function toyBertEncoder(words: Float32Array, types: Float32Array, vocab: number, dim: number): Uint8Array {
  const g = new GraphBuilder('toy-bert');
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const typeIds = g.input('token_type_ids', 'int64', ['batch', 'sequence']);
  const w = g.node('Gather', [g.initializer('words', 'float', [vocab, dim], words), ids]);
  const t = g.node('Gather', [g.initializer('types', 'float', [2, dim], types), typeIds]);
  g.node('Add', [w, t], { name: 'last_hidden_state' });
  g.output('last_hidden_state', 'float', ['batch', 'sequence', dim]);
  return g.encode({ opset: 13 });
}
