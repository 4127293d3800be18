/** Tokenizers against hand-checked ids, and the ONNX encoder path against the model's own weights. */
import { DEFAULT_MODEL_DIR } from '../src/rag/defaults.js';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assetModel } from '../src/util/paths.js';
import { Embedder } from '../src/rag/embedder.js';
import { EmbedderPool } from '../src/rag/embedder-pool.js';
import { loadTokenizer } from '../src/rag/tokenizer.js';
import { createRng } from '../src/util/random.js';
import { tempDir } from './helpers.js';
import { gloveTable, toyBertEncoder } from './onnx-proto.js';

const GLOVE = DEFAULT_MODEL_DIR;
const MINILM = assetModel('all-MiniLM-L6-v2-tokenizer');

describe('tokenizers', () => {
  // Ids read off the vocab files by hand (line number - 1), WordPiece pieces checked against vocab.txt.
  it('MiniLM tokenizer.json gives the reference ids', () => {
    const t = loadTokenizer({ type: 'huggingface', file: join(MINILM, 'tokenizer.json') });
    // [CLS] hello world , una ##ffa ##ble resume ! [SEP]
    expect(t.encode('Hello World, unaffable résumé!')).toEqual([101, 7592, 2088, 1010, 14477, 20961, 3468, 13746, 999, 102]);
    // [CLS] the rope ' s em ##bed ##ding , 202 ##4 . [SEP]
    expect(t.encode("The rope's embedding, 2024.")).toEqual([101, 1996, 8164, 1005, 1055, 7861, 8270, 4667, 1010, 16798, 2549, 1012, 102]);
    expect(t.encode('Hello World', false)).toEqual([7592, 2088]);
    expect(t.specialTokens).toBe(2);
    expect(t.count("The rope's embedding, 2024.")).toBe(11);
  });

  it('GloVe vocab.txt word tokenizer gives the reference ids', () => {
    const t = loadTokenizer({ type: 'wordlevel', file: join(GLOVE, 'vocab.txt') });
    // cerebral white - matter ( mri ) is [UNK]=n't well-known .
    expect(t.encode("Cerebral white-matter (MRI) isn't well-known.")).toEqual([15988, 287, 11, 1048, 23, 17285, 24, 14, 1, 8341, 4]);
    // the world [UNK]='s [UNK]=3 largest [UNK]=zorblaxes !
    expect(t.encode("The World's 3 largest zorblaxes!")).toEqual([2, 80, 1, 1, 484, 1, 754]);
    expect(t.specialTokens).toBe(0);
    expect(t.count("Cerebral white-matter (MRI) isn't well-known.")).toBe(11);
  });

  it('a missing or malformed tokenizer file is a coded error', () => {
    expect(() => loadTokenizer({ type: 'wordlevel', file: '/nonexistent/vocab.txt' })).toThrow(expect.objectContaining({ code: 'STRATA_MODEL_FILE_MISSING' }));
    const { dir, cleanup } = tempDir('tok');
    writeFileSync(join(dir, 'tokenizer.json'), '{ not json');
    expect(() => loadTokenizer({ type: 'huggingface', file: join(dir, 'tokenizer.json') })).toThrow(expect.objectContaining({ code: 'STRATA_MODEL_INVALID' }));
    cleanup();
  });
});

describe('GloVe encoder on onnxruntime-node', () => {
  let embedder: Embedder;
  let table: Float32Array;
  beforeAll(async () => {
    embedder = await Embedder.load(GLOVE, {}, { intraOpThreads: 1 });
    table = gloveTable(readFileSync(join(GLOVE, 'model.onnx')));
  });
  afterAll(() => embedder.close());

  it('outputs the L2-normalised mean of the word vectors read from the ONNX initializer', async () => {
    const texts = ['Cerebral white-matter (MRI) isn\'t well-known.', 'the cat sat on the mat', 'Proteins fold; enzymes catalyse reactions in cells.'];
    const got = await embedder.embed(texts);
    expect(embedder.dimension).toBe(100);
    texts.forEach((text, i) => {
      const ids = embedder.tokenizer.encode(text);
      const mean = new Float64Array(100);
      for (const id of ids) for (let j = 0; j < 100; j++) mean[j] += table[id * 100 + j] / ids.length;
      const norm = Math.hypot(...mean);
      for (let j = 0; j < 100; j++) expect(got[i * 100 + j]).toBeCloseTo(mean[j] / norm, 5);
    });
  });

  it('a text embeds the same alone and in a padded batch of longer texts', async () => {
    const short = 'enzymes';
    const alone = await embedder.embed([short]);
    const batch = await embedder.embed(['a much longer sentence about the structure of proteins and enzymes in cells', short, 'x y z']);
    for (let j = 0; j < 100; j++) expect(batch[100 + j]).toBeCloseTo(alone[j], 6);
  });

  it('the worker pool returns the same vectors in input order', async () => {
    const rng = createRng(11);
    const words = ['protein', 'cell', 'gene', 'the', 'of', 'virus', 'immune', 'response', 'mouse', 'brain', 'signal'];
    const texts = Array.from({ length: 300 }, () => Array.from({ length: 1 + rng.int(40) }, () => words[rng.int(words.length)]).join(' '));
    const pool = await EmbedderPool.load(GLOVE, {}, { threads: 2, groupSize: 64 });
    try {
      const viaPool = await pool.embed(texts);
      const here = await embedder.embed(texts);
      expect(viaPool.length).toBe(here.length);
      for (let i = 0; i < here.length; i++) expect(viaPool[i]).toBeCloseTo(here[i], 5);
    } finally {
      await pool.close();
    }
  });

  it('a missing ONNX file and a wrong configured dimension are coded errors', async () => {
    const { dir, cleanup } = tempDir('model');
    copyFileSync(join(GLOVE, 'vocab.txt'), join(dir, 'vocab.txt'));
    await expect(Embedder.load(dir)).rejects.toMatchObject({ code: 'STRATA_MODEL_FILE_MISSING', field: 'onnx' });
    await expect(Embedder.load(GLOVE, { dimension: 384 })).rejects.toMatchObject({ code: 'STRATA_MODEL_MISMATCH', field: 'dimension' });
    cleanup();
  });
});

describe('a BERT-shaped encoder (Hugging Face tokenizer, token_type_ids, mean pooling)', () => {
  const dim = 8;
  const vocab = 30522;
  const { dir, cleanup } = tempDir('toybert');
  const rng = createRng(5);
  const words = Float32Array.from({ length: vocab * dim }, () => rng.gaussian());
  const types = Float32Array.from({ length: 2 * dim }, () => rng.gaussian());
  let embedder: Embedder;
  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) copyFileSync(join(MINILM, f), join(dir, f));
    // The file name a user drops in beside the MiniLM tokenizer.
    writeFileSync(join(dir, 'model_quantized.onnx'), toyBertEncoder(words, types, vocab, dim));
    embedder = await Embedder.load(dir, {}, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await embedder.close();
    cleanup();
  });

  it('infers the config: tokenizer.json, mean pooling over last_hidden_state, dimension from the model', () => {
    expect(embedder.config.pooling).toBe('mean');
    expect(embedder.config.tokenizer.type).toBe('huggingface');
    expect(embedder.dimension).toBe(dim);
  });

  it('mean-pools the hidden states under the attention mask, with [CLS]/[SEP] and token type 0', async () => {
    const texts = ['Hello World, unaffable résumé!', 'short', "The rope's embedding, 2024."];
    const got = await embedder.embed(texts);
    texts.forEach((text, i) => {
      const ids = embedder.tokenizer.encode(text);
      const mean = new Float64Array(dim);
      for (const id of ids) for (let j = 0; j < dim; j++) mean[j] += (words[id * dim + j] + types[j]) / ids.length;
      const norm = Math.hypot(...mean);
      for (let j = 0; j < dim; j++) expect(got[i * dim + j]).toBeCloseTo(mean[j] / norm, 5);
    });
  });

  it('truncates to maxLength tokens, keeping [SEP]', async () => {
    const e = await Embedder.load(dir, { maxLength: 6 }, { intraOpThreads: 1 });
    try {
      const text = 'one two three four five six seven eight';
      const ids = e.tokenizer.encode(text);
      const kept = [...ids.slice(0, 5), ids[ids.length - 1]];
      const mean = new Float64Array(dim);
      for (const id of kept) for (let j = 0; j < dim; j++) mean[j] += (words[id * dim + j] + types[j]) / kept.length;
      const norm = Math.hypot(...mean);
      const got = await e.embed([text]);
      for (let j = 0; j < dim; j++) expect(got[j]).toBeCloseTo(mean[j] / norm, 5);
    } finally {
      await e.close();
    }
  });
});
