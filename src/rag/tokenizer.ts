/**
 * Tokenizers for sentence encoders, behind one small interface: Hugging Face `tokenizer.json` files
 * (WordPiece, BPE, Unigram) through @huggingface/tokenizers, and the word-level `vocab.txt` of a
 * GloVe-style encoder (word-tokenizer.ts). The chunker counts tokens with the same tokenizer the
 * embedder feeds the model, so a chunk of N tokens is N tokens to the model.
 */
import { readTextMaybeGzip } from '../util/files.js';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { createError } from '../errors.js';
import { WordTokenizer } from './word-tokenizer.js';

export interface TextTokenizer {
  /** Token ids of `text`; with `special` (default true) the model's [CLS]/[SEP]-style tokens are added. */
  encode(text: string, special?: boolean): number[];
  /** Tokens of `text` without special tokens (what chunk sizes are measured in). */
  count(text: string): number;
  /** Tokens the special ones add to every sequence (e.g. 2 for [CLS] ... [SEP]). */
  readonly specialTokens: number;
  /** Id used to pad a batch. */
  readonly padId: number;
}

export type TokenizerSpec =
  | { type: 'huggingface'; file: string; config?: string }
  | { type: 'wordlevel'; file: string; lowercase?: boolean; unkToken?: string; padToken?: string };

/** A tokenizer.json read through @huggingface/tokenizers (a maintained pure-JS port of HF tokenizers). */
class HuggingFaceTokenizer implements TextTokenizer {
  readonly specialTokens: number;
  readonly padId: number;
  private readonly tok: HfTokenizer;

  constructor(file: string, configFile?: string) {
    const json = readJson(file, 'tokenizer.file');
    const config = configFile ? readJson(configFile, 'tokenizer.config') : {};
    this.tok = new HfTokenizer(json, config);
    this.specialTokens = this.tok.encode('').ids.length;
    const padToken = typeof config.pad_token === 'string' ? config.pad_token : '[PAD]';
    this.padId = this.tok.token_to_id(padToken) ?? 0;
  }

  encode(text: string, special = true): number[] {
    return this.tok.encode(text, { add_special_tokens: special }).ids;
  }

  count(text: string): number {
    return this.tok.encode(text, { add_special_tokens: false }).ids.length;
  }
}

function readJson(file: string, field: string): Record<string, unknown> {
  try {
    return JSON.parse(readTextMaybeGzip(file)) as Record<string, unknown>;
  } catch (err) {
    throw createError('STRATA_MODEL_INVALID', `${field}: cannot read ${file} as JSON (${(err as Error).message})`, field);
  }
}

export function loadTokenizer(spec: TokenizerSpec): TextTokenizer {
  if (spec.type === 'huggingface') return new HuggingFaceTokenizer(spec.file, spec.config);
  return WordTokenizer.fromFile(spec.file, spec);
}
