/**
 * Writing ONNX graphs with the ONNX schema's own protobuf bindings (the `onnx-proto` package, the
 * ONNX .proto compiled for protobufjs): the project's generated models (random-weight decoders,
 * the bundled GloVe encoder) are built node by node here and encoded by the maintained package.
 *
 *   const g = new GraphBuilder('name');
 *   const x = g.input('x', 'float', ['batch', 4]);
 *   const w = g.initializer('w', 'float', [4, 2], Float32Array.from(...));
 *   g.output(g.node('MatMul', [x, w], { name: 'y' }), 'float', ['batch', 2]);
 *   writeFileSync('m.onnx', g.encode({ opset: 17 }));
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElemType = 'float' | 'float16' | 'int64' | 'int32' | 'int8' | 'bool';

const ELEM: Record<ElemType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** ONNX type id of an element type (for Cast's `to`). */
export const elemTypeId = (t: ElemType): number => ELEM[t];

type AttributeValue = number | number[] | string | { ints: number[] } | { float: number };

type Dim = number | string;

function valueInfo(name: string, elem: ElemType, shape: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: ELEM[elem], shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, v: AttributeValue): onnxProto.onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if ('ints' in v) return { name, type: A.INTS, ints: v.ints };
  return { name, type: A.FLOAT, f: v.float };
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inits: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name. */
  fresh(prefix = 't'): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, elem: ElemType, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elem, shape));
    return name;
  }

  output(value: string, elem: ElemType, shape: readonly Dim[], name = value): string {
    const out = value === name ? value : this.node('Identity', [value], { name });
    this.outputs.push(valueInfo(name, elem, shape));
    return out;
  }

  /** A weight or constant stored in the graph (raw little-endian bytes). */
  initializer(name: string, elem: ElemType, dims: readonly number[], data: Float32Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array): string {
    this.inits.push({ name, dims: [...dims], dataType: ELEM[elem], rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** An int64 constant (shapes, axes, indices), made once per value. */
  ints(values: readonly number[], scalar = false): string {
    const key = `i${scalar ? 's' : ''}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.initializer(this.fresh('const'), 'int64', scalar ? [] : [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A float32 scalar constant, made once per value. */
  float(value: number): string {
    const key = `f:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.initializer(this.fresh('const'), 'float', [], Float32Array.of(value));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A node with one output (named `attrs.name`, else a fresh name); returns the output's name. */
  node(op: string, inputs: readonly string[], attrs: Record<string, AttributeValue> & { name?: string } = {}): string {
    const { name, ...rest } = attrs;
    const out = name ?? this.fresh(op.toLowerCase());
    this.nodes.push({ opType: op, input: [...inputs], output: [out], name: `${op}_${this.nodes.length}`, attribute: Object.entries(rest).map(([k, v]) => attribute(k, v as AttributeValue)) });
    return out;
  }

  /** A node with `count` outputs (TopK: values, indices); returns their names. */
  nodeOutputs(op: string, inputs: readonly string[], count: number, attrs: Record<string, AttributeValue> = {}): string[] {
    const outs = Array.from({ length: count }, () => this.fresh(op.toLowerCase()));
    this.nodes.push({ opType: op, input: [...inputs], output: outs, name: `${op}_${this.nodes.length}`, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v as AttributeValue)) });
    return outs;
  }

  /** The model's bytes (ONNX IR 8). */
  encode(options: { opset: number; producer?: string; doc?: string }): Uint8Array {
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      producerName: options.producer ?? 'strata',
      opsetImport: [{ domain: '', version: options.opset }],
      docString: options.doc ?? '',
      graph: { name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}
