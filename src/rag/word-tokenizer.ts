/**
 * The word-level tokenizer of a GloVe-style encoder: `vocab.txt` holds one token per line (line i is
 * id i). Text is lowercased and split the way GloVe's corpus was (Stanford tokenizer): words,
 * numbers, and each punctuation mark as its own token; "don't" -> "do" "n't", "world's" -> "world"
 * "'s". A hyphenated or dotted word missing from the vocabulary falls back to its parts. Unknown
 * words map to the unknown token. No special tokens are added.
 */
import { readTextMaybeGzip } from '../util/files.js';
import { createError } from '../errors.js';

const WORD = /\p{L}[\p{L}\p{M}\p{N}]*(?:['’.-][\p{L}\p{M}\p{N}]+)*\.?|\p{N}+(?:[.,:/-]\p{N}+)*|[^\s\p{L}\p{N}]/gu;

export class WordTokenizer {
  readonly specialTokens = 0;
  readonly padId: number;
  private readonly unkId: number;

  constructor(
    private readonly vocab: Map<string, number>,
    private readonly lowercase = true,
    unkToken = '[UNK]',
    padToken = '[PAD]',
  ) {
    const unk = vocab.get(unkToken);
    if (unk === undefined) throw createError('STRATA_MODEL_INVALID', `tokenizer.unkToken: the vocabulary has no ${unkToken}`, 'tokenizer.unkToken');
    this.unkId = unk;
    this.padId = vocab.get(padToken) ?? 0;
  }

  static fromFile(file: string, options: { lowercase?: boolean; unkToken?: string; padToken?: string } = {}): WordTokenizer {
    let text: string;
    try {
      text = readTextMaybeGzip(file);
    } catch (err) {
      throw createError('STRATA_MODEL_FILE_MISSING', `tokenizer.file: cannot read ${file} (${(err as Error).message})`, 'tokenizer.file');
    }
    const vocab = new Map<string, number>();
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (let i = 0; i < lines.length; i++) if (!vocab.has(lines[i])) vocab.set(lines[i], i);
    return new WordTokenizer(vocab, options.lowercase ?? true, options.unkToken, options.padToken);
  }

  /** The word tokens of `text` (strings, before the vocabulary lookup). */
  words(text: string): string[] {
    const src = this.lowercase ? text.toLowerCase() : text;
    const out: string[] = [];
    for (const w of src.match(WORD) ?? []) this.pushWord(w.includes('’') ? w.replace(/’/g, "'") : w, out);
    return out;
  }

  private pushWord(w: string, out: string[]): void {
    if (this.vocab.has(w) || w.length === 1) {
      out.push(w);
      return;
    }
    if (w.endsWith('.') && this.vocab.has(w.slice(0, -1))) {
      out.push(w.slice(0, -1), '.');
      return;
    }
    if (w.endsWith('.')) {
      this.pushWord(w.slice(0, -1), out);
      out.push('.');
      return;
    }
    const clitic = /^(.+)(n't|'s|'re|'ve|'ll|'d|'m)$/.exec(w);
    if (clitic) {
      this.pushWord(clitic[1], out);
      out.push(clitic[2]);
      return;
    }
    const parts = w.split(/([-'./:,])/).filter((p) => p !== '');
    if (parts.length > 1) for (const p of parts) this.pushWord(p, out);
    else out.push(w);
  }

  encode(text: string): number[] {
    return this.words(text).map((w) => this.vocab.get(w) ?? this.unkId);
  }

  count(text: string): number {
    const src = this.lowercase ? text.toLowerCase() : text;
    let n = 0;
    const scratch: string[] = [];
    for (const w of src.match(WORD) ?? []) {
      // Known words and single characters are one token; only the rest goes through the fallbacks.
      if (w.length === 1 || this.vocab.has(w)) n++;
      else {
        scratch.length = 0;
        this.pushWord(w.includes('’') ? w.replace(/’/g, "'") : w, scratch);
        n += scratch.length;
      }
    }
    return n;
  }
}
