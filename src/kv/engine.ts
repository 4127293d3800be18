/**
 * The chunk KV cache layer: a decoder model registered with its profile (and gated, gate.ts), a
 * store of chunk caches and a store of exact prefix caches, and prompt assembly.
 *
 * A prompt is [prefix][chunk 1..n][question] in token ids (the prefix starts with BOS). `assemble`:
 *   1. reuses the longest cached exact prefix (at the prefix/chunk boundaries), else computes it;
 *   2. for each chunk after it: a cached chunk (computed alone after BOS, keys at positions 1..) is
 *      re-rotated to its new offset and appended, then some of its tokens are recomputed in place
 *      (recompute.ts); a missing chunk is computed in context (exact given what precedes it);
 *   3. prefills the question: the logits of its last token predict the first answer token (TTFT);
 *   4. afterwards stores the missing chunks (computed alone, with their deviation statistics) and the
 *      longest exact prefix.
 * A model the gate marks prefix-reuse-only never gets re-rotated chunks: only step 1 applies.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { loadTokenizer, type TextTokenizer } from '../rag/tokenizer.js';
import type { ObjectStore } from '../storage/object-store.js';
import { BlendModel } from './blend-model.js';
import { ChunkKvStore, chunkKey, DEFAULT_KV_NAMESPACE, type ChunkStoreOptions } from './chunk-store.js';
import { DecoderModel, type DecoderOptions } from './decoder.js';
import type { ChunkEntry } from './entry-codec.js';
import { checkRerotation, type GateOptions, type GateReport } from './gate.js';
import { decodeFrom, type SamplingOptions } from './generate.js';
import { cloneCache, concatCaches, sliceCache, writeTokens, type KvCache } from './kv-cache.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';
import type { ModelProfile } from './model-profile.js';
import { materializeProfile } from './random-llama.js';
import { cacheCraftBudgets, DEFAULT_RECOMPUTE, RECOMPUTE_STRATEGIES, tokenDeviation, topTokens, toRuns, type RecomputeStrategy } from './recompute.js';
import { rerotateKeys, type RopeParams } from './rope.js';

export interface PromptParts {
  /** Starts with BOS. */
  prefix: number[];
  chunks: number[][];
  question: number[];
}

export interface AssembleOptions {
  /**
   * Who may share cached chunks and prefixes with this prompt (chunk-store.ts): entries stored by a
   * prompt of one namespace are never used for, or counted against, another. Corpus.kvNamespace(tenant)
   * gives a corpus tenant's (the tenant alone, or the whole corpus when its admin chose sharing).
   * Default '' (single-user use).
   */
  namespace?: string;
  /** Default 'cache-craft'. */
  strategy?: RecomputeStrategy;
  /** Share of reused chunk tokens recomputed (ignored by none and full). Default 0.15. */
  fraction?: number;
  /** Reuse chunk caches (else only exact prefixes, as prefix caching does). Default: what the gate allows. */
  reuseChunks?: boolean;
  /** Store missing chunks and the exact prefix afterwards. Default true. */
  store?: boolean;
  /** Recompute runs closer than this many tokens are merged into one run. Default 2. */
  mergeGap?: number;
  /**
   * kv-deviation and cache-craft choose whole blocks of this many consecutive tokens (by summed
   * score) instead of single tokens: fewer, longer runs, so fewer ONNX calls. Faster, but on the
   * bench kv workload blocks of 8 lost quality (kv-deviation at 15% fell below no recompute in
   * greedy-32 match), so single tokens stay the default (BENCHMARKS.md). Default 1.
   */
  selectionBlock?: number;
  /**
   * Recompute every chosen run in ONE batched ONNX call (a row per run, each row's attention mask
   * showing only what precedes the run) instead of one call per run in order. Batched rows do not see
   * each other's fresh K/V (sequential ones do), and each row carries a copy of the whole past, which
   * the graph's grouped-query attention expands per row: measured slower on CPU here for both models
   * (BENCHMARKS.md), so off by default. Strategy `full` always runs sequentially. Default false.
   */
  batchRecompute?: boolean;
  /**
   * Selective recompute in ONE ONNX call (blend-model.ts; CacheBlend's algorithm): the whole prompt's
   * cache is assembled (cached prefix, re-rotated chunks), and one call computes fresh Q/K/V in every
   * layer only for the tokens to recompute — the chosen chunk tokens, chunks not in the store, an
   * uncached prefix and the question — patching them in before each layer attends. kv-deviation
   * chooses its tokens inside the call (K deviation at layer 1, which runs on every token, weighted by
   * the attention the prompt's last token pays each there: query-aware); the other
   * strategies give theirs. Needs a model of llama-graph.ts's layout (stories260K, the generated
   * Llamas). Default false.
   */
  singlePass?: boolean;
}

export interface AssemblyReport {
  strategy: RecomputeStrategy | 'prefix-only';
  promptTokens: number;
  /** Tokens taken from an exact prefix cache. */
  prefixReused: number;
  chunkHits: number;
  chunkMisses: number;
  /** Where each passage chunk's K/V came from: an exact prefix cache, the chunk store (re-rotated), or computed here. */
  chunkSources: Array<'prefix' | 'cached' | 'computed'>;
  /** Tokens taken from re-rotated chunk caches, and how many of them were recomputed. */
  reusedTokens: number;
  recomputedTokens: number;
  onnxCalls: number;
  /** Time to the first token's logits and where it went (ms). */
  ttftMs: number;
  lookupMs: number;
  rotateMs: number;
  computeMs: number;
  probeMs: number;
  /** After the first token: computing missing chunks alone and writing the stores. */
  storeMs: number;
}

export interface Assembled {
  /** The cache of the whole prompt (question included). */
  cache: KvCache;
  /** Logits predicting the first answer token. */
  logits: Float32Array;
  /** Position of the next token. */
  position: number;
  report: AssemblyReport;
}

export interface KvEngineOptions {
  /** Chunk store tiers (the prefix store gets the same budgets). */
  store?: ChunkStoreOptions;
  /**
   * A shared tier for chunk entries (S3ObjectStore under a prefix of its own): nodes that open the
   * same one reuse each other's chunk KV (chunk-store.ts). Prefix entries stay local.
   */
  sharedChunks?: ObjectStore;
  decoder?: DecoderOptions;
  gate?: GateOptions;
}

type AnyTokenizer = { encode(text: string, bos: boolean): number[]; decode(ids: number[]): string };

function wrapTokenizer(profile: ModelProfile): AnyTokenizer {
  if (profile.tokenizer.type === 'llama2c') {
    const t = Llama2cTokenizer.fromFile(profile.tokenizer.file);
    return { encode: (s, bos) => t.encode(s, { bos }), decode: (ids) => t.decode(ids) };
  }
  const hf: TextTokenizer = loadTokenizer({ type: 'huggingface', file: profile.tokenizer.file });
  return {
    encode: (s, bos) => [...(bos && profile.bos !== undefined ? [profile.bos] : []), ...hf.encode(s, false)],
    decode: () => {
      throw createError('STRATA_INVALID_OPTION', `decoding text is only implemented for llama2.c tokenizers (${profile.name} has a Hugging Face one)`, 'tokenizer');
    },
  };
}

const now = () => performance.now();

export class KvEngine {
  private probe: DecoderModel | null = null;
  /** The single-pass graphs, given selection and in-graph selection (loaded on first use). */
  private readonly blends = new Map<boolean, Promise<BlendModel>>();

  private constructor(
    readonly profile: ModelProfile,
    readonly model: DecoderModel,
    readonly gate: GateReport,
    readonly fingerprint: string,
    readonly chunks: ChunkKvStore,
    readonly prefixes: ChunkKvStore,
    readonly tokenizer: AnyTokenizer,
    private readonly options: KvEngineOptions,
  ) {}

  /** Register a model: load it, check its layout against the profile, run the re-rotation gate, open the stores in `dir`. */
  static async open(profile: ModelProfile, dir: string, options: KvEngineOptions = {}): Promise<KvEngine> {
    materializeProfile(profile);
    const model = await DecoderModel.load(profile.onnx, options.decoder);
    for (const k of ['layers', 'kvHeads', 'headDim'] as const) {
      if (profile[k] !== undefined && profile[k] !== model[k]) {
        await model.close();
        throw createError('STRATA_MODEL_MISMATCH', `${k}: the profile of ${profile.name} says ${profile[k]}, the graph has ${model[k]}`, k);
      }
    }
    const gate = await checkRerotation(model, profile, options.gate);
    const fingerprint = createHash('sha256')
      .update(readFileSync(profile.onnx))
      .update(JSON.stringify(profile.positional))
      .digest('hex')
      .slice(0, 16);
    return new KvEngine(
      profile,
      model,
      gate,
      fingerprint,
      ChunkKvStore.open(join(dir, 'chunks'), options.store, options.sharedChunks ?? null),
      // Prefix entries are exact: stored as float32, whatever the chunk store's precision.
      ChunkKvStore.open(join(dir, 'prefixes'), { ...options.store, policy: 'lru', dtype: 'f32' }),
      wrapTokenizer(profile),
      options,
    );
  }

  /** Chunks may be moved to new positions (the gate passed). */
  get canRerotate(): boolean {
    return this.gate.rerotation;
  }

  /** Token ids of a prompt made of a system text, passages and a question. */
  encodePrompt(parts: { system?: string; passages: string[]; question: string }): PromptParts {
    return {
      prefix: this.tokenizer.encode(parts.system ?? '', true),
      chunks: parts.passages.map((p) => this.tokenizer.encode(p, false)),
      question: this.tokenizer.encode(parts.question, false),
    };
  }

  private checkPrompt(p: PromptParts): number {
    const total = p.prefix.length + p.chunks.reduce((s, c) => s + c.length, 0) + p.question.length;
    if (p.prefix.length === 0) throw createError('STRATA_INVALID_OPTION', 'prefix must hold at least BOS', 'prefix');
    if (p.question.length === 0) throw createError('STRATA_INVALID_OPTION', 'question must not be empty', 'question');
    if (p.chunks.some((c) => c.length === 0)) throw createError('STRATA_INVALID_OPTION', 'chunks must not be empty', 'chunks');
    if (total > this.profile.maxContext) throw createError('STRATA_LIMIT_EXCEEDED', `the prompt has ${total} tokens, ${this.profile.name} takes ${this.profile.maxContext}`, 'prompt');
    for (const t of [...p.prefix, ...p.chunks.flat(), ...p.question]) {
      if (!Number.isInteger(t) || t < 0 || t >= this.model.vocab) throw createError('STRATA_INVALID_OPTION', `token ${t} is outside the vocabulary [0, ${this.model.vocab})`, 'tokens');
    }
    return total;
  }

  private prefixKey(tokens: number[], namespace: string): string {
    return chunkKey(`${this.fingerprint}p`, tokens, namespace);
  }

  /** The chunk store key of a chunk's tokens in a namespace. */
  chunkKey(tokens: ArrayLike<number>, namespace: string = DEFAULT_KV_NAMESPACE): string {
    return chunkKey(this.fingerprint, tokens, namespace);
  }

  /** The reference: the whole prompt in one forward call. */
  async fullPrefill(p: PromptParts): Promise<Assembled> {
    const total = this.checkPrompt(p);
    const tokens = [...p.prefix, ...p.chunks.flat(), ...p.question];
    const t0 = now();
    const r = await this.model.forward(tokens, tokens.map((_, i) => i));
    const ms = now() - t0;
    const V = this.model.vocab;
    return {
      cache: r.cache,
      logits: r.logits.slice((total - 1) * V, total * V),
      position: total,
      report: { strategy: 'full', promptTokens: total, prefixReused: 0, chunkHits: 0, chunkMisses: 0, chunkSources: p.chunks.map(() => 'computed'), reusedTokens: 0, recomputedTokens: total, onnxCalls: 1, ttftMs: ms, lookupMs: 0, rotateMs: 0, computeMs: ms, probeMs: 0, storeMs: 0 },
    };
  }

  /** Assemble the prompt's cache from the stores, patch it, prefill the question. */
  async assemble(p: PromptParts, options: AssembleOptions = {}): Promise<Assembled> {
    const total = this.checkPrompt(p);
    const ns = options.namespace ?? DEFAULT_KV_NAMESPACE;
    if (typeof ns !== 'string') throw createError('STRATA_INVALID_OPTION', `namespace must be a string, got ${typeof ns}`, 'namespace');
    const strategy = options.strategy ?? DEFAULT_RECOMPUTE.strategy;
    if (!RECOMPUTE_STRATEGIES.includes(strategy)) throw createError('STRATA_INVALID_OPTION', `strategy must be one of ${RECOMPUTE_STRATEGIES.join(', ')}, got ${JSON.stringify(strategy)}`, 'strategy');
    const fraction = options.fraction ?? DEFAULT_RECOMPUTE.fraction;
    if (!(fraction >= 0 && fraction <= 1)) throw createError('STRATA_INVALID_OPTION', `fraction must be in [0, 1], got ${fraction}`, 'fraction');
    const reuseChunks = (options.reuseChunks ?? true) && this.canRerotate;
    const gap = options.mergeGap ?? 2;
    const block = options.selectionBlock ?? 1;
    if (!Number.isInteger(block) || block < 1) throw createError('STRATA_INVALID_OPTION', `selectionBlock must be a positive integer, got ${block}`, 'selectionBlock');
    const report: AssemblyReport = {
      strategy: reuseChunks ? strategy : 'prefix-only',
      promptTokens: total,
      prefixReused: 0,
      chunkHits: 0,
      chunkMisses: 0,
      chunkSources: p.chunks.map(() => 'prefix'),
      reusedTokens: 0,
      recomputedTokens: 0,
      onnxCalls: 0,
      ttftMs: 0,
      lookupMs: 0,
      rotateMs: 0,
      computeMs: 0,
      probeMs: 0,
      storeMs: 0,
    };
    const t0 = now();
    const forward = async (tokens: number[], start: number, past?: KvCache) => {
      const t = now();
      const r = await this.model.forward(tokens, tokens.map((_, i) => start + i), past);
      report.computeMs += now() - t;
      report.onnxCalls++;
      return r;
    };
    const starts: number[] = [];
    let at = p.prefix.length;
    for (const c of p.chunks) {
      starts.push(at);
      at += c.length;
    }
    const questionStart = at;
    const seq = [...p.prefix, ...p.chunks.flat()];

    // 1. Longest exact prefix at a boundary.
    const boundaries = [p.prefix.length, ...p.chunks.map((c, i) => starts[i] + c.length)];
    let cache: KvCache | null = null;
    let done = 0; // chunks covered by the prefix
    let t = now();
    for (let b = boundaries.length - 1; b >= 0; b--) {
      const key = this.prefixKey(seq.slice(0, boundaries[b]), ns);
      if (!this.prefixes.has(key)) continue;
      const e = this.prefixes.get(key);
      if (!e) continue;
      cache = e.cache;
      done = b;
      report.prefixReused = boundaries[b];
      break;
    }
    report.lookupMs += now() - t;
    if (options.singlePass && reuseChunks) return this.assembleSinglePass(p, ns, { strategy, fraction, block, store: options.store ?? true }, { cache, done, starts, boundaries, questionStart, seq, total, report, t0 });
    if (!cache) cache = (await forward(p.prefix, 0)).cache;
    let exactUntil = cache.length;

    // 2. Chunks.
    const misses: Array<{ index: number; key: string }> = [];
    const entries: Array<ChunkEntry | undefined> = [];
    if (reuseChunks) {
      t = now();
      const keys = p.chunks.slice(done).map((c) => this.chunkKey(c, ns));
      await this.chunks.fetchRemote(keys); // the shared tier's entries this node lacks, in one round
      for (let i = done; i < p.chunks.length; i++) entries[i] = this.chunks.get(keys[i - done]);
      report.lookupMs += now() - t;
    }
    const budgets =
      strategy === 'cache-craft'
        ? cacheCraftBudgets(
            p.chunks.map((c, i) => ({ length: entries[i] ? c.length : 0, meanDeviation: meanOf(entries[i]?.deviation) })),
            fraction,
          )
        : [];
    // 100% must equal a full prefill, which needs each run to see the runs before it: sequential.
    const batched = (options.batchRecompute ?? false) && strategy !== 'full';
    const placed: Array<{ index: number; moved: KvCache; entry: ChunkEntry; past: KvCache }> = [];
    const select = (i: number, entry: ChunkEntry, dev?: Float32Array): number[] => {
      const n = p.chunks[i].length;
      if (strategy === 'kv-deviation') return dev ? topTokens(dev, Math.ceil(fraction * n), block) : [];
      return givenOffsets(strategy, n, fraction, entry, budgets[i], block);
    };
    const probeRows = async (items: typeof placed, past: KvCache): Promise<Float32Array[]> => {
      const tp = now();
      this.probe ??= await DecoderModel.loadFirstLayers(this.profile.onnx, 2, this.options.decoder);
      const two = { ...past, layers: 2, keys: past.keys.slice(0, 2), values: past.values.slice(0, 2) };
      const fresh = await this.probe.forwardRows(
        items.map((it) => ({ tokens: p.chunks[it.index], positions: p.chunks[it.index].map((_, j) => starts[it.index] + j), visiblePast: starts[it.index] })),
        two,
      );
      report.probeMs += now() - tp;
      report.onnxCalls++;
      return fresh.map((f, k) => tokenDeviation(f.keys[1], f.values[1], items[k].moved.keys[1], items[k].moved.values[1], f.kvHeads, f.length, f.headDim));
    };
    const recordExact = (i: number, offsets: number[]) => {
      if (offsets.length === p.chunks[i].length && exactUntil === starts[i]) exactUntil = starts[i] + offsets.length; // a fully recomputed chunk is exact
    };
    for (let i = done; i < p.chunks.length; i++) {
      const chunk = p.chunks[i];
      const s = starts[i];
      const entry = entries[i];
      if (!entry) {
        cache = (await forward(chunk, s, cache)).cache;
        if (exactUntil === s) exactUntil = s + chunk.length;
        if (reuseChunks) misses.push({ index: i, key: this.chunkKey(chunk, ns) });
        report.chunkMisses++;
        report.chunkSources[i] = 'computed';
        continue;
      }
      const moved = this.placeHit(entry, i, chunk.length, s, report);
      const past = cache;
      cache = concatCaches([cache, moved]);
      if (batched) {
        placed.push({ index: i, moved, entry, past });
        continue;
      }
      // Sequential: choose and recompute this chunk's tokens now, one ONNX call per run.
      const dev = strategy === 'kv-deviation' && fraction > 0 ? (await probeRows([{ index: i, moved, entry, past }], past))[0] : undefined;
      const offsets = select(i, entry, dev);
      for (const [a, b] of toRuns(offsets, gap)) {
        const r = await forward(chunk.slice(a, b), s + a, sliceCache(cache, 0, s + a));
        writeTokens(cache, s + a, r.cache, s + a, s + b);
        report.recomputedTokens += b - a;
      }
      recordExact(i, offsets);
    }
    if (batched && placed.length > 0) {
      // Batched: one probe call (kv-deviation), then one call recomputing every run.
      const devs = strategy === 'kv-deviation' && fraction > 0 ? await probeRows(placed, cache) : [];
      const runs: Array<{ tokens: number[]; positions: number[]; visiblePast: number; at: number }> = [];
      placed.forEach((it, k) => {
        const offsets = select(it.index, it.entry, devs[k]);
        const s = starts[it.index];
        for (const [a, b] of toRuns(offsets, gap)) runs.push({ tokens: p.chunks[it.index].slice(a, b), positions: Array.from({ length: b - a }, (_, j) => s + a + j), visiblePast: s + a, at: s + a });
      });
      if (runs.length > 0) {
        const tc = now();
        const fresh = await this.model.forwardRows(runs, cache);
        report.computeMs += now() - tc;
        report.onnxCalls++;
        runs.forEach((r, k) => {
          writeTokens(cache as KvCache, r.at, fresh[k]);
          report.recomputedTokens += r.tokens.length;
        });
      }
    }

    // 3. The question.
    const q = await forward(p.question, questionStart, cache);
    const V = this.model.vocab;
    const logits = q.logits.slice((p.question.length - 1) * V, p.question.length * V);
    report.ttftMs = now() - t0;

    // 4. Store what was missing, and the longest exact prefix.
    if (options.store ?? true) await this.storeAfter(p, ns, misses, starts, boundaries, seq, q.cache, exactUntil, report);
    return { cache: q.cache, logits, position: total, report };
  }

  /** Cached chunk `index` for position `s`: its cache copied and re-rotated there (counted in the report). */
  private placeHit(entry: ChunkEntry, index: number, length: number, s: number, report: AssemblyReport): KvCache {
    report.chunkHits++;
    report.chunkSources[index] = 'cached';
    report.reusedTokens += length;
    const t = now();
    const moved = cloneCache(entry.cache);
    rerotateKeys(moved, s - entry.basePosition, this.profile.positional as RopeParams);
    report.rotateMs += now() - t;
    return moved;
  }

  /**
   * After a prompt: store the chunks that were missing (each computed alone too, for its deviation
   * statistics) and the longest exact prefix (`exactUntil`: positions [0, exactUntil) of `cache`
   * equal a full prefill's).
   */
  private async storeAfter(p: PromptParts, ns: string, misses: Array<{ index: number; key: string }>, starts: number[], boundaries: number[], seq: number[], cache: KvCache, exactUntil: number, report: AssemblyReport): Promise<void> {
    const rope = this.profile.positional as RopeParams;
    const ts = now();
    for (const { index, key } of misses) {
      const chunk = p.chunks[index];
      const s = starts[index];
      const tc = now();
      const alone = await this.model.forward([p.prefix[0], ...chunk], [0, ...chunk.map((_, j) => 1 + j)]);
      const recomputeMs = now() - tc;
      const standalone = sliceCache(alone.cache, 1, 1 + chunk.length);
      const inContext = sliceCache(cache, s, s + chunk.length);
      rerotateKeys(inContext, 1 - s, rope);
      const L = Math.min(1, standalone.layers - 1);
      const deviation = tokenDeviation(standalone.keys[L], standalone.values[L], inContext.keys[L], inContext.values[L], standalone.kvHeads, chunk.length, standalone.headDim);
      await this.chunks.put(key, { tokens: Int32Array.from(chunk), basePosition: 1, cache: standalone, deviation, recomputeMs }, recomputeMs);
    }
    const exactBoundary = boundaries.filter((b) => b <= exactUntil).pop();
    if (exactBoundary !== undefined && exactBoundary > report.prefixReused) {
      const tokens = seq.slice(0, exactBoundary);
      await this.prefixes.put(this.prefixKey(tokens, ns), { tokens: Int32Array.from(tokens), basePosition: 0, cache: sliceCache(cache, 0, exactBoundary), deviation: null, recomputeMs: 0 }, exactBoundary);
    }
    report.storeMs = now() - ts;
  }

  private blend(select: boolean): Promise<BlendModel> {
    let b = this.blends.get(select);
    if (!b) {
      b = BlendModel.load(this.profile.onnx, select, this.options.decoder);
      b.catch(() => this.blends.delete(select));
      this.blends.set(select, b);
    }
    return b;
  }

  /** assemble() with `singlePass`: one ONNX call for the whole prompt (AssembleOptions.singlePass). */
  private async assembleSinglePass(
    p: PromptParts,
    ns: string,
    o: { strategy: RecomputeStrategy; fraction: number; block: number; store: boolean },
    at: { cache: KvCache | null; done: number; starts: number[]; boundaries: number[]; questionStart: number; seq: number[]; total: number; report: AssemblyReport; t0: number },
  ): Promise<Assembled> {
    const { starts, questionStart, total, report } = at;
    const { layers, kvHeads, headDim } = this.model;
    const full: KvCache = { layers, kvHeads, headDim, length: total, keys: Array.from({ length: layers }, () => new Float32Array(kvHeads * total * headDim)), values: Array.from({ length: layers }, () => new Float32Array(kvHeads * total * headDim)) };
    const recompute: number[] = [];
    const range = (a: number, b: number) => {
      for (let i = a; i < b; i++) recompute.push(i);
    };
    // The exact prefix, if cached; else its tokens are computed in the call.
    let exactUntil = 0;
    if (at.cache) {
      writeTokens(full, 0, at.cache);
      exactUntil = at.cache.length;
    } else {
      range(0, p.prefix.length);
      exactUntil = p.prefix.length;
    }
    const t = now();
    const keys = p.chunks.slice(at.done).map((c) => this.chunkKey(c, ns));
    await this.chunks.fetchRemote(keys);
    const entries = p.chunks.map((_, i) => (i < at.done ? undefined : this.chunks.get(keys[i - at.done])));
    report.lookupMs += now() - t;
    const budgets = o.strategy === 'cache-craft' ? cacheCraftBudgets(p.chunks.map((c, i) => ({ length: entries[i] ? c.length : 0, meanDeviation: meanOf(entries[i]?.deviation) })), o.fraction) : [];
    const misses: Array<{ index: number; key: string }> = [];
    /** 1 at the positions of chunks taken from the store. */
    const reused = new Uint8Array(total);
    let selectCount = 0;
    for (let i = at.done; i < p.chunks.length; i++) {
      const chunk = p.chunks[i];
      const s = starts[i];
      const entry = entries[i];
      if (!entry) {
        range(s, s + chunk.length);
        if (exactUntil === s) exactUntil = s + chunk.length;
        misses.push({ index: i, key: keys[i - at.done] });
        report.chunkMisses++;
        report.chunkSources[i] = 'computed';
        continue;
      }
      writeTokens(full, s, this.placeHit(entry, i, chunk.length, s, report));
      const n = chunk.length;
      reused.fill(1, s, s + n);
      let offsets: number[] = [];
      if (o.strategy === 'kv-deviation') selectCount += Math.ceil(o.fraction * n); // chosen inside the call
      else offsets = givenOffsets(o.strategy, n, o.fraction, entry, budgets[i], o.block);
      for (const j of offsets) recompute.push(s + j);
      if (offsets.length === n && exactUntil === s) exactUntil = s + n;
    }
    range(questionStart, total);
    const tokens = [...at.seq, ...p.question];
    const tc = now();
    const model = await this.blend(o.strategy === 'kv-deviation');
    const r = await model.run(tokens, full, recompute, selectCount);
    report.computeMs += now() - tc;
    report.onnxCalls++;
    for (const i of r.recomputed) report.recomputedTokens += reused[i]; // reused chunk tokens recomputed
    report.ttftMs = now() - at.t0;
    if (o.store) await this.storeAfter(p, ns, misses, starts, at.boundaries, at.seq, r.cache, exactUntil, report);
    return { cache: r.cache, logits: r.logits, position: total, report };
  }

  /** Generate after an assembled prompt. */
  async generate(assembled: Assembled, sampling: SamplingOptions = {}): Promise<number[]> {
    const { tokens } = await decodeFrom(this.model, assembled.cache, assembled.logits, assembled.position, { eos: this.profile.eos, ...sampling });
    return tokens;
  }

  async close(): Promise<void> {
    await this.chunks.close();
    await this.prefixes.close();
    await this.model.close();
    await this.probe?.close();
    for (const b of this.blends.values()) await (await b.catch(() => null))?.close();
  }
}

/** The chunk offsets a strategy recomputes that need no probe (kv-deviation's are chosen from a probe or inside the call). */
function givenOffsets(strategy: RecomputeStrategy, n: number, fraction: number, entry: ChunkEntry, budget: number, block: number): number[] {
  if (strategy === 'full') return Array.from({ length: n }, (_, j) => j);
  if (strategy === 'first-k') return Array.from({ length: Math.min(n, Math.ceil(fraction * n)) }, (_, j) => j);
  if (strategy === 'cache-craft') return entry.deviation ? topTokens(entry.deviation, budget, block) : Array.from({ length: budget }, (_, j) => j);
  return [];
}

function meanOf(a: Float32Array | null | undefined): number {
  if (!a || a.length === 0) return 1;
  let s = 0;
  for (const x of a) s += x;
  return s / a.length;
}
