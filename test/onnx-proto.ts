/**
 * Just enough protobuf to read an ONNX file's initializers (the GloVe table the encoder test checks
 * against) and to write a tiny BERT-shaped encoder (the path a MiniLM/bge model takes: Hugging Face
 * tokenizer, token_type_ids, last_hidden_state, mean pooling). Field numbers from onnx.proto.
 */

// ---- reading ---------------------------------------------------------------------------------------
function varint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Length-delimited fields of one message, as [field, bytes] pairs (other wire types are skipped). */
function fields(buf: Uint8Array): Array<[number, Uint8Array | number]> {
  const out: Array<[number, Uint8Array | number]> = [];
  let pos = 0;
  while (pos < buf.length) {
    let key: number;
    [key, pos] = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let v: number;
      [v, pos] = varint(buf, pos);
      out.push([field, v]);
    } else if (wire === 2) {
      let len: number;
      [len, pos] = varint(buf, pos);
      out.push([field, buf.subarray(pos, pos + len)]);
      pos += len;
    } else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** Float initializers of an ONNX model (ModelProto.graph.initializer). */
export function readInitializers(file: Uint8Array): Initializer[] {
  // A plain Uint8Array view: a Node Buffer's slice() shares memory instead of copying.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const graph = fields(bytes).find(([f]) => f === 7)?.[1] as Uint8Array;
  const out: Initializer[] = [];
  for (const [f, v] of fields(graph)) {
    if (f !== 5) continue;
    const t: Initializer = { name: '', dims: [], data: new Float32Array(0) };
    let type = 0;
    let raw: Uint8Array | null = null;
    for (const [tf, tv] of fields(v as Uint8Array)) {
      if (tf === 1 && typeof tv === 'number') t.dims.push(tv);
      else if (tf === 1) {
        let p = 0;
        const packed = tv as Uint8Array;
        while (p < packed.length) {
          let d: number;
          [d, p] = varint(packed, p);
          t.dims.push(d);
        }
      } else if (tf === 2) type = tv as number;
      else if (tf === 8) t.name = new TextDecoder().decode(tv as Uint8Array);
      else if (tf === 9 || tf === 4) raw = tv as Uint8Array; // raw_data, or packed float_data
    }
    if (type === 1 && raw) {
      t.data = new Float32Array(raw.slice().buffer);
      out.push(t);
    }
  }
  return out;
}

// ---- writing ---------------------------------------------------------------------------------------
type Msg = Array<[number, number | string | Uint8Array]>;

function encVarint(v: number, out: number[]): void {
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function encode(msg: Msg): Uint8Array {
  const out: number[] = [];
  const chunks: Uint8Array[] = [];
  const flush = () => {
    chunks.push(Uint8Array.from(out));
    out.length = 0;
  };
  for (const [field, value] of msg) {
    if (typeof value === 'number') {
      encVarint(field * 8, out);
      encVarint(value, out);
    } else {
      const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
      encVarint(field * 8 + 2, out);
      encVarint(bytes.length, out);
      flush();
      chunks.push(bytes);
    }
  }
  flush();
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const buf = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    buf.set(c, o);
    o += c.length;
  }
  return buf;
}

const FLOAT = 1;
const INT64 = 7;

function tensor(name: string, dims: number[], data: Float32Array): Uint8Array {
  return encode([...dims.map((d) => [1, d] as [number, number]), [2, FLOAT], [8, name], [9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]]);
}

function valueInfo(name: string, elemType: number, shape: Array<number | string>): Uint8Array {
  const dims = shape.map((d) => [1, encode([typeof d === 'number' ? [1, d] : [2, d]])] as [number, Uint8Array]);
  const tensorType = encode([
    [1, elemType],
    [2, encode(dims)],
  ]);
  return encode([
    [1, name],
    [2, encode([[1, tensorType]])],
  ]);
}

function node(op: string, inputs: string[], outputs: string[], name: string): Uint8Array {
  return encode([...inputs.map((i) => [1, i] as [number, string]), ...outputs.map((o) => [2, o] as [number, string]), [3, name], [4, op]]);
}

/**
 * A BERT-shaped toy encoder: last_hidden_state[b, s] = words[input_ids[b, s]] + types[token_type_ids[b, s]].
 * Inputs input_ids, attention_mask (unused by the graph: pooling applies it), token_type_ids, all int64.
 */
export function toyBertEncoder(words: Float32Array, types: Float32Array, vocab: number, dim: number): Uint8Array {
  const graph = encode([
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
  return encode([
    [1, 8],
    [7, graph],
    [8, encode([[2, 13]])],
  ]);
}
