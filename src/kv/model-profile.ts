/**
 * A decoder model described once: its files, its positional scheme (RoPE layout and theta, or
 * absolute position embeddings), context length and special tokens. The KV layout (layers, KV heads,
 * head size) is read from the ONNX graph and checked against the profile when the profile gives it.
 *
 * Whether cached keys may be moved to another position is not taken on trust: `registerModel`
 * (registry.ts) measures it (gate.ts) and marks a model that fails prefix-reuse-only.
 */
import type { RandomLlamaSpec } from './random-llama.js';
import type { RopeParams } from './rope.js';

export type PositionalScheme = ({ kind: 'rope' } & RopeParams) | { kind: 'absolute' };

export type DecoderTokenizerSpec = { type: 'llama2c'; file: string } | { type: 'huggingface'; file: string };

export interface ModelProfile {
  /** A short name for people (reports, the HTTP API). */
  name: string;
  onnx: string;
  tokenizer: DecoderTokenizerSpec;
  positional: PositionalScheme;
  /** Longest sequence the model was trained on. */
  maxContext: number;
  bos?: number;
  eos?: number;
  /** Expected KV layout; checked against the graph at load when given. */
  layers?: number;
  kvHeads?: number;
  headDim?: number;
  /** A generated random-weight model (random-llama.ts): `onnx` is made from this spec when missing. */
  random?: RandomLlamaSpec;
}
