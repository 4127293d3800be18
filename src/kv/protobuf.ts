/**
 * The protobuf wire format, as much of it as reading and rewriting ONNX files needs (onnx-prune.ts):
 * a message is a list of fields, each a varint, a fixed 32/64-bit value or a length-delimited byte
 * run. No schema: callers name field numbers from onnx.proto.
 */

export interface ProtoField {
  num: number;
  wire: number;
  /** The field's full encoding (key + payload), to copy a field unchanged. */
  raw: Uint8Array;
  /** Payload of a length-delimited field. */
  body?: Uint8Array;
  /** Value of a varint field. */
  value?: number;
}

function varint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** The fields of one message, in order. */
export function readFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    let key: number;
    [key, pos] = varint(buf, pos);
    const wire = key & 7;
    const num = Math.floor(key / 8);
    const f: ProtoField = { num, wire, raw: buf };
    if (wire === 0) [f.value, pos] = varint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len: number;
      [len, pos] = varint(buf, pos);
      f.body = buf.subarray(pos, pos + len);
      pos += len;
    } else throw new Error(`unsupported wire type ${wire}`);
    f.raw = buf.subarray(start, pos);
    out.push(f);
  }
  return out;
}

/** The varints packed in a length-delimited payload (a packed repeated int field). */
export function readPackedVarints(body: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < body.length) {
    let v: number;
    [v, pos] = varint(body, pos);
    out.push(v);
  }
  return out;
}

function encodeVarint(v: number, out: number[]): void {
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encode fields: a number as a varint, a string (UTF-8) or bytes as length-delimited. */
export function encodeMessage(fields: ReadonlyArray<readonly [number, number | string | Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [num, value] of fields) {
    const head: number[] = [];
    if (typeof value === 'number') {
      encodeVarint(num * 8, head);
      encodeVarint(value, head);
      parts.push(Uint8Array.from(head));
    } else {
      const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
      encodeVarint(num * 8 + 2, head);
      encodeVarint(bytes.length, head);
      parts.push(Uint8Array.from(head), bytes);
    }
  }
  return concatBytes(parts);
}
