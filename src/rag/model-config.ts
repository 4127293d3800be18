/**
 * What a sentence-encoder directory holds, described once and checked at load. A directory may carry
 * a `strata-model.json` (fields below); without one the config is inferred from the files present:
 * `tokenizer.json` (Hugging Face) or `vocab.txt` (word level), the first of `model.onnx`,
 * `model_quantized.onnx`, `onnx/model.onnx`, `onnx/model_quantized.onnx`, and the pooling from the
 * model's outputs (`sentence_embedding` as is, otherwise the mean of `last_hidden_state`).
 *
 * So the real all-MiniLM-L6-v2 `model_quantized.onnx`, dropped beside its tokenizer files, embeds
 * with no config at all; a config only pins what inference would guess.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { createError } from '../errors.js';
import type { TokenizerSpec } from './tokenizer.js';

export const MODEL_CONFIG_FILE = 'strata-model.json';

export type Pooling = 'sentence_embedding' | 'mean' | 'cls';

/** A model directory's config as written in strata-model.json (paths relative to the directory). */
export interface ModelConfigFile {
  /** ONNX file. Default: the first of model.onnx, model_quantized.onnx, onnx/model.onnx, onnx/model_quantized.onnx. */
  onnx?: string;
  /** Tokenizer. Default: tokenizer.json (+ tokenizer_config.json) if present, else vocab.txt as word level. */
  tokenizer?: TokenizerSpec;
  /**
   * How a text's vector is made: 'sentence_embedding' takes that output as is; 'mean' averages the
   * `last_hidden_state` rows under the attention mask; 'cls' takes its first row. Default: from the outputs.
   */
  pooling?: Pooling;
  /** Longest input in tokens, special tokens included; longer texts are truncated. Default 512. */
  maxLength?: number;
  /** Output dimension; checked against the model at load when given. Default: read from the model. */
  dimension?: number;
  /** L2-normalise every vector (then dot = cosine). Default true. */
  normalize?: boolean;
}

/** A model config with every path resolved and every default filled in (dimension is set at load). */
export interface ModelConfig {
  dir: string;
  onnx: string;
  tokenizer: TokenizerSpec;
  pooling: Pooling | undefined;
  maxLength: number;
  dimension: number | undefined;
  normalize: boolean;
}

const ONNX_CANDIDATES = ['model.onnx', 'model_quantized.onnx', 'onnx/model.onnx', 'onnx/model_quantized.onnx'];

function invalid(field: string, message: string): never {
  throw createError('STRATA_MODEL_INVALID', `${MODEL_CONFIG_FILE} ${field}: ${message}`, field);
}

function mustExist(path: string, field: string): string {
  if (!existsSync(path)) throw createError('STRATA_MODEL_FILE_MISSING', `${field}: ${path} does not exist`, field);
  return path;
}

/** Read (or infer) and check the config of the encoder in `dir`; `overrides` win over the file. */
export function resolveModelConfig(dir: string, overrides: ModelConfigFile = {}): ModelConfig {
  if (!existsSync(dir)) throw createError('STRATA_MODEL_FILE_MISSING', `model: directory ${dir} does not exist`, 'model');
  let file: ModelConfigFile = {};
  const configPath = join(dir, MODEL_CONFIG_FILE);
  if (existsSync(configPath)) {
    try {
      file = JSON.parse(readFileSync(configPath, 'utf8')) as ModelConfigFile;
    } catch (err) {
      throw createError('STRATA_MODEL_INVALID', `${configPath} is not valid JSON (${(err as Error).message})`, MODEL_CONFIG_FILE);
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file)) invalid('(root)', 'must be an object');
  }
  const c: ModelConfigFile = { ...file, ...overrides };
  const at = (p: string) => (isAbsolute(p) ? p : join(dir, p));

  let onnx: string;
  if (c.onnx !== undefined) {
    if (typeof c.onnx !== 'string') invalid('onnx', 'must be a file name');
    onnx = mustExist(at(c.onnx), 'onnx');
  } else {
    const found = ONNX_CANDIDATES.find((f) => existsSync(join(dir, f)));
    if (!found) throw createError('STRATA_MODEL_FILE_MISSING', `onnx: ${dir} holds none of ${ONNX_CANDIDATES.join(', ')} (name the file in ${MODEL_CONFIG_FILE})`, 'onnx');
    onnx = join(dir, found);
  }

  let tokenizer: TokenizerSpec;
  if (c.tokenizer !== undefined) {
    const t = c.tokenizer;
    if (typeof t !== 'object' || t === null || (t.type !== 'huggingface' && t.type !== 'wordlevel') || typeof t.file !== 'string') {
      invalid('tokenizer', 'must be {"type": "huggingface"|"wordlevel", "file": "..."}');
    }
    tokenizer = { ...t, file: mustExist(at(t.file), 'tokenizer.file') };
    if (tokenizer.type === 'huggingface' && tokenizer.config !== undefined) tokenizer.config = mustExist(at(tokenizer.config), 'tokenizer.config');
  } else if (existsSync(join(dir, 'tokenizer.json'))) {
    const cfg = join(dir, 'tokenizer_config.json');
    tokenizer = { type: 'huggingface', file: join(dir, 'tokenizer.json'), ...(existsSync(cfg) ? { config: cfg } : {}) };
  } else if (existsSync(join(dir, 'vocab.txt'))) {
    tokenizer = { type: 'wordlevel', file: join(dir, 'vocab.txt') };
  } else {
    throw createError('STRATA_MODEL_FILE_MISSING', `tokenizer: ${dir} has neither tokenizer.json nor vocab.txt (name the file in ${MODEL_CONFIG_FILE})`, 'tokenizer');
  }

  if (c.pooling !== undefined && !['sentence_embedding', 'mean', 'cls'].includes(c.pooling)) invalid('pooling', `must be sentence_embedding, mean or cls, got ${JSON.stringify(c.pooling)}`);
  const maxLength = c.maxLength ?? 512;
  if (!Number.isInteger(maxLength) || maxLength < 2) invalid('maxLength', `must be an integer >= 2, got ${JSON.stringify(c.maxLength)}`);
  if (c.dimension !== undefined && (!Number.isInteger(c.dimension) || c.dimension < 1)) invalid('dimension', `must be a positive integer, got ${JSON.stringify(c.dimension)}`);
  if (c.normalize !== undefined && typeof c.normalize !== 'boolean') invalid('normalize', 'must be true or false');
  return { dir, onnx, tokenizer, pooling: c.pooling, maxLength, dimension: c.dimension, normalize: c.normalize ?? true };
}
