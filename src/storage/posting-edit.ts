/**
 * A posting list (or slot block) opened for editing: entries sorted by slot, codes alongside, with
 * room to grow. Live updates read a value once per transaction, add and drop entries, and write it
 * back in the posting format (posting-format.ts). Adding a slot that is already present does nothing,
 * so an entry is never held twice.
 */
import { CODEC_IDS, type PostingEncoder } from './records.js';
import { postingBytes, POSTING_HEADER_BYTES, sealPosting, type PostingReader, type PostingSpace } from './posting-format.js';
import { lowerBound } from '../util/bounds.js';

export class EditableList {
  slots: Uint32Array;
  codes: Uint8Array;
  count = 0;
  /** Whether anything changed since it was read. */
  changed = false;
  readonly bpv: number;

  constructor(
    readonly dim: number,
    readonly codec: PostingEncoder,
    capacity = 16,
  ) {
    this.bpv = codec.bytesPerVector;
    this.slots = new Uint32Array(Math.max(1, capacity));
    this.codes = new Uint8Array(Math.max(1, capacity) * this.bpv);
  }

  /** The entries of a stored value (copied out of it), or an empty list. */
  static read(reader: PostingReader, value: Uint8Array | undefined, key: number, dim: number, codec: PostingEncoder, extra = 0, space: PostingSpace = 'list'): EditableList {
    if (!value) return new EditableList(dim, codec, extra);
    const view = reader.read(value, key, space);
    const list = new EditableList(dim, codec, view.count + extra);
    list.slots.set(view.ids);
    list.codes.set(view.codes);
    list.count = view.count;
    return list;
  }

  private grow(need: number): void {
    if (need <= this.slots.length) return;
    const cap = Math.max(need, Math.ceil(this.slots.length * 1.5));
    const slots = new Uint32Array(cap);
    slots.set(this.slots.subarray(0, this.count));
    const codes = new Uint8Array(cap * this.bpv);
    codes.set(this.codes.subarray(0, this.count * this.bpv));
    this.slots = slots;
    this.codes = codes;
  }

  /** Index of `slot`, or -1. */
  indexOf(slot: number): number {
    const i = lowerBound(this.slots.subarray(0, this.count), slot);
    return i < this.count && this.slots[i] === slot ? i : -1;
  }

  /** Add an entry (bytesPerVector bytes of `code` at `off`) in slot order; false if the slot is already there. */
  add(slot: number, code: Uint8Array, off: number): boolean {
    const bpv = this.bpv;
    let i = this.count;
    if (i > 0 && this.slots[i - 1] >= slot) {
      i = lowerBound(this.slots.subarray(0, this.count), slot);
      if (this.slots[i] === slot) return false;
    }
    this.grow(this.count + 1);
    if (i < this.count) {
      this.slots.copyWithin(i + 1, i, this.count);
      this.codes.copyWithin((i + 1) * bpv, i * bpv, this.count * bpv);
    }
    this.slots[i] = slot;
    this.codes.set(code.subarray(off, off + bpv), i * bpv);
    this.count++;
    this.changed = true;
    return true;
  }

  /** Drop the entries for which `drop(slot)` holds; returns how many went. */
  removeWhere(drop: (slot: number) => boolean): number {
    const bpv = this.bpv;
    let j = 0;
    for (let i = 0; i < this.count; i++) {
      if (drop(this.slots[i])) continue;
      if (j !== i) {
        this.slots[j] = this.slots[i];
        this.codes.copyWithin(j * bpv, i * bpv, (i + 1) * bpv);
      }
      j++;
    }
    const removed = this.count - j;
    this.count = j;
    if (removed > 0) this.changed = true;
    return removed;
  }

  /** The list in the posting format. */
  encode(): Uint8Array {
    const n = this.count, bpv = this.bpv;
    const out = new Uint8Array(postingBytes(n, bpv));
    const head = new Uint32Array(out.buffer, 0, 4);
    head[0] = n;
    head[1] = this.dim;
    head[2] = CODEC_IDS[this.codec.name];
    head[3] = bpv;
    new Uint32Array(out.buffer, POSTING_HEADER_BYTES, n).set(this.slots.subarray(0, n));
    out.set(this.codes.subarray(0, n * bpv), POSTING_HEADER_BYTES + 4 * n);
    return sealPosting(out);
  }
}
