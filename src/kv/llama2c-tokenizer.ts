/**
 * The llama2.c tokenizer (`tok512.bin` of stories260K): a file of int32 max_token_length, then per
 * token float32 merge score, int32 byte length and the bytes. Encoding is llama2.c's: BOS, a dummy
 * leading space, each UTF-8 character as its own piece (bytes not in the vocabulary fall back to the
 * `<0xXX>` pieces, id = byte + 3), then the adjacent pair whose concatenation has the highest score is
 * merged until none is in the vocabulary. Decoding turns `<0xXX>` pieces back into bytes and drops the
 * space a piece starts with right after BOS.
 */
import { readFileSync } from 'node:fs';
import { createError } from '../errors.js';

export const LLAMA2C_BOS = 1;
export const LLAMA2C_EOS = 2;

export class Llama2cTokenizer {
  private readonly ids = new Map<string, number>();
  readonly bos = LLAMA2C_BOS;
  readonly eos = LLAMA2C_EOS;

  private constructor(
    /** Token pieces as bytes (latin1 strings: one char per byte, so byte pieces stay exact). */
    private readonly pieces: string[],
    private readonly scores: Float32Array,
  ) {
    pieces.forEach((p, i) => {
      if (!this.ids.has(p)) this.ids.set(p, i);
    });
  }

  static fromFile(file: string): Llama2cTokenizer {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      throw createError('STRATA_MODEL_FILE_MISSING', `tokenizer: cannot read ${file} (${(err as Error).message})`, 'tokenizer');
    }
    const pieces: string[] = [];
    const scores: number[] = [];
    let p = 4;
    while (p < buf.length) {
      if (p + 8 > buf.length) throw createError('STRATA_MODEL_INVALID', `tokenizer: ${file} ends inside token ${pieces.length}`, 'tokenizer');
      scores.push(buf.readFloatLE(p));
      const len = buf.readInt32LE(p + 4);
      if (len < 0 || p + 8 + len > buf.length) throw createError('STRATA_MODEL_INVALID', `tokenizer: token ${pieces.length} of ${file} has a bad length ${len}`, 'tokenizer');
      pieces.push(buf.toString('latin1', p + 8, p + 8 + len));
      p += 8 + len;
    }
    return new Llama2cTokenizer(pieces, Float32Array.from(scores));
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** Token ids of `text` (with BOS unless `bos` is false; EOS when `eos`). */
  encode(text: string, options: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = [];
    if (options.bos ?? true) out.push(this.bos);
    const tokens: number[] = [];
    if (text !== '') {
      const space = this.ids.get(' ');
      if (space !== undefined) tokens.push(space);
    }
    for (const ch of text) {
      const bytes = Buffer.from(ch, 'utf8').toString('latin1');
      const id = this.ids.get(bytes);
      if (id !== undefined) tokens.push(id);
      else for (let i = 0; i < bytes.length; i++) tokens.push(bytes.charCodeAt(i) + 3);
    }
    // Merge the best-scoring adjacent pair until no pair is a token.
    for (;;) {
      let best = -Infinity;
      let at = -1;
      let bestId = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const id = this.ids.get(this.pieces[tokens[i]] + this.pieces[tokens[i + 1]]);
        if (id !== undefined && this.scores[id] > best) {
          best = this.scores[id];
          at = i;
          bestId = id;
        }
      }
      if (at < 0) break;
      tokens.splice(at, 2, bestId);
    }
    out.push(...tokens);
    if (options.eos) out.push(this.eos);
    return out;
  }

  /** The bytes token `id` stands for, after token `prev` (llama2.c's decode). */
  private pieceBytes(prev: number, id: number): string {
    let piece = this.pieces[id] ?? '';
    if (prev === this.bos && piece.startsWith(' ')) piece = piece.slice(1);
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    return m ? String.fromCharCode(parseInt(m[1], 16)) : piece;
  }

  /** Text of a token sequence; BOS and EOS produce nothing. `prev` is the token before ids[0]. */
  decode(ids: readonly number[], prev = -1): string {
    let bytes = '';
    for (const id of ids) {
      if (id !== this.bos && id !== this.eos) bytes += this.pieceBytes(prev, id);
      prev = id;
    }
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
}
