/**
 * `strata bench kv`: chunk KV-cache reuse on RAG-shaped prompts.
 *
 * Workload: a pool of passages (stories stories260K writes itself, 64-128 tokens, tok512), prompts of
 * [BOS + a fixed system line][3-5 passages drawn by Zipf popularity, in random order][a short question],
 * inside the 512-token context. Every passage of the measured prompts is first seen (and cached, with
 * its statistics) in another prompt.
 *
 * Measured in one run, per prompt, interleaved: full prefill, prefix caching alone, and assembly with
 * each recompute strategy and fraction. Quality (stories260K only: the generated models have random
 * weights): top-1 agreement of the next-token distribution with full prefill, KL(full || assembled),
 * greedy 32-token exact match, and the share of the 64 greedy tokens after the prompt that equal full
 * prefill's position by position (--name-questions: questions naming a character of an earlier
 * passage, so the answer depends on attention across chunks). Time: medians of time-to-first-token and where it went. Hit rates: 1,000
 * Zipf prompts replayed through the chunk store under GDSF and LRU with the same byte budgets, then
 * split between two tenants (90% / 10% of the prompts) with and without fair-share eviction.
 * Isolation: a tenant's TTFT for a prompt another tenant cached vs a first sighting (equal: the caches
 * are per namespace).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkKvStore } from '../src/kv/chunk-store.js';
import { KvEngine, type Assembled, type PromptParts } from '../src/kv/engine.js';
import type { ChunkEntry } from '../src/kv/entry-codec.js';
import type { EvictionPolicyName } from '../src/kv/eviction.js';
import { argmax, decodeFrom, generate, softmax } from '../src/kv/generate.js';
import { sliceCache } from '../src/kv/kv-cache.js';
import { builtinProfiles } from '../src/kv/profiles.js';
import type { RecomputeStrategy } from '../src/kv/recompute.js';
import { createRng, type Rng } from '../src/util/random.js';
import { quantile } from './engine-process.js';
import { fmtBytes, formatTable, lineChartSvg } from './report.js';

export interface KvBenchOptions {
  models?: string[];
  /** Prompts measured per model. Default 40. */
  prompts?: number;
  /** Passages in the pool. Default 60. */
  passages?: number;
  /** Prompts replayed for the hit-rate comparison. Default 1000. */
  hitPrompts?: number;
  fractions?: number[];
  /** Zipf exponent of passage popularity. Default 1.0. */
  zipf?: number;
  /** AssembleOptions.selectionBlock for every assembly. Default 1. */
  selectionBlock?: number;
  /** Passage lengths in tokens, [min, max]. Default [64, 128]. */
  passageTokens?: [number, number];
  /** Passages per prompt, [min, max]. Default [3, 5]. */
  chunksPerPrompt?: [number, number];
  /** Measure the batched-recompute rows. Default true. */
  batched?: boolean;
  /** ORT intra-op threads of the models (DecoderOptions.intraOpThreads). Default 1. */
  ortThreads?: number;
  /**
   * Questions that name a character of an earlier passage ("Then Lily said,"): the continuation
   * depends on attention across chunks (issue 24's discriminating quality measure). Default false.
   */
  nameQuestions?: boolean;
  seed?: number;
  json?: string;
  svg?: string;
  log?: (line: string) => void;
}

export interface KvRow {
  model: string;
  strategy: RecomputeStrategy | 'prefix-only' | 'full-prefill';
  /** Recompute runs in one batched call (true) or one call per run in order (false, the default). */
  batched: boolean;
  /** The whole prompt in one call of the single-pass graph (AssembleOptions.singlePass). */
  singlePass: boolean;
  /** The fraction asked for, and the fraction of reused tokens actually recomputed. */
  targetFraction: number;
  recomputeFraction: number;
  top1Agreement: number | null;
  kl: number | null;
  exactMatch32: number | null;
  /** Share of the 64 greedy tokens after the prompt equal, position by position, to full prefill's. */
  agree64: number | null;
  ttftMs: number;
  fullPrefillMs: number;
  prefixOnlyMs: number;
  lookupMs: number;
  rotateMs: number;
  computeMs: number;
  probeMs: number;
  onnxCalls: number;
  prompts: number;
}

/** Tenant isolation: a guessing tenant's TTFT for a prompt another tenant cached vs a first sighting. */
export interface IsolationRow {
  model: string;
  prompts: number;
  /** Median TTFT of tenant G assembling a prompt tenant O has just cached (G's own namespace). */
  guessMs: number;
  /** Median TTFT of a tenant assembling a prompt nobody has seen. */
  missMs: number;
  /** Median TTFT of O assembling its own cached prompt again (what a leak would look like). */
  ownHitMs: number;
  /** Prompts where G reused anything (prefix or chunks): must be 0. */
  guessReuses: number;
}

/** Chunk hit rate of each tenant of a skewed two-tenant workload, with and without fair share. */
export interface TenantHitRow {
  model: string;
  fairShare: boolean;
  tenant: string;
  /** Share of the prompts this tenant sent. */
  traffic: number;
  hitRate: number;
  lookups: number;
  /** Bytes it held in the disk tier at the end, and the tier's budget. */
  bytes: number;
  diskBudget: number;
}

export interface HitRateRow {
  model: string;
  policy: EvictionPolicyName;
  prompts: number;
  memoryBudget: number;
  diskBudget: number;
  hitRate: number;
  memoryHits: number;
  diskHits: number;
  lookups: number;
  evictions: number;
}

const SYSTEM = 'Here are some stories.';
const QUESTIONS = ['Once upon a time, there was a', 'The little girl said,', 'One day, the dog', 'Then they went to the park and', 'At the end of the day,'];

function zipfSampler(n: number, s: number, rng: Rng): () => number {
  const w = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const cum: number[] = [];
  let acc = 0;
  for (const x of w) cum.push((acc += x));
  return () => {
    const u = rng.next() * acc;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const median = (xs: number[]): number => quantile(Float64Array.from(xs).sort(), 0.5);

function kl(p: Float32Array, q: Float32Array): number {
  const a = softmax(p, 0, p.length);
  const b = softmax(q, 0, q.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > 0) s += a[i] * Math.log(a[i] / Math.max(b[i], 1e-300));
  return s;
}

/** Prompts of 3-5 distinct Zipf-drawn passages in random order, within `budget` tokens. */
function makePrompts(count: number, pool: number[][], prefix: number[], questions: number[][], zipf: number, rng: Rng, budget: number, chunks: [number, number]): Array<{ parts: PromptParts; ids: number[] }> {
  const draw = zipfSampler(pool.length, zipf, rng);
  const out: Array<{ parts: PromptParts; ids: number[] }> = [];
  for (let attempts = 0; out.length < count; attempts++) {
    if (attempts > count * 1000) throw new Error(`cannot make prompts of ${chunks[0]}-${chunks[1]} passages within ${budget} tokens from this pool`);
    const want = chunks[0] + rng.int(chunks[1] - chunks[0] + 1);
    const ids: number[] = [];
    for (let tries = 0; ids.length < want && tries < 100; tries++) {
      const i = draw();
      if (!ids.includes(i)) ids.push(i);
    }
    const question = questions[rng.int(questions.length)];
    let total = prefix.length + question.length;
    const kept: number[] = [];
    for (const i of ids) if (total + pool[i].length <= budget) (kept.push(i), (total += pool[i].length));
    if (kept.length < chunks[0]) continue;
    out.push({ parts: { prefix, chunks: kept.map((i) => pool[i]), question }, ids: kept });
  }
  return out;
}

export interface KvBenchResult {
  rows: KvRow[];
  hitRates: HitRateRow[];
  isolation: IsolationRow[];
  tenantHitRates: TenantHitRow[];
}

export async function runKvBench(o: KvBenchOptions = {}): Promise<KvBenchResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const profiles = builtinProfiles();
  const models = o.models ?? ['stories260K', 'llama-random-6M'];
  const fractions = o.fractions ?? [0, 0.05, 0.15, 0.3, 1];
  const nPrompts = o.prompts ?? 40;
  const seed = o.seed ?? 7;
  const zipf = o.zipf ?? 1.0;
  const rows: KvRow[] = [];
  const hitRates: HitRateRow[] = [];
  const isolation: IsolationRow[] = [];
  const tenantHitRates: TenantHitRow[] = [];
  const work = mkdtempSync(join(tmpdir(), 'strata-bench-kv-'));
  try {
    // The passage pool: stories260K's own stories, 64-128 tokens each.
    const writer = await KvEngine.open(profiles.stories260K, join(work, 'writer'));
    const rng = createRng(seed);
    const pool: number[][] = [];
    const [minLen, maxLen] = o.passageTokens ?? [64, 128];
    for (let i = 0; pool.length < (o.passages ?? 60); i++) {
      const len = minLen + rng.int(maxLen - minLen + 1);
      // stories260K writes up to its context; a passage longer than one story joins several.
      const story: number[] = [];
      for (let part = 0; story.length < len && part < 16; part++) {
        const { tokens } = await generate(writer.model, [1], { maxTokens: Math.min(len, 400), temperature: 1, seed: seed * 1000 + i * 16 + part });
        story.push(...tokens.filter((t) => t !== 1 && t !== 2));
      }
      if (story.length >= len) pool.push(story.slice(0, len));
    }
    const prefix = writer.tokenizer.encode(SYSTEM, true);
    const questions = QUESTIONS.map((q) => writer.tokenizer.encode(q, false));
    await writer.close();
    log(`pool: ${pool.length} passages, ${Math.min(...pool.map((p) => p.length))}-${Math.max(...pool.map((p) => p.length))} tokens; Zipf s=${zipf}`);

    for (const name of models) {
      const profile = profiles[name as keyof typeof profiles];
      if (!profile) throw new Error(`unknown model ${name} (${Object.keys(profiles).join(', ')})`);
      const quality = name === 'stories260K';
      const engine = await KvEngine.open(profile, join(work, name), { decoder: { intraOpThreads: o.ortThreads ?? 1 } });
      log(`\n${name}: gate ${engine.gate.rerotation ? 'passed' : 'FAILED (prefix reuse only)'} (relative error ${engine.gate.relError.toExponential(1)}); onnxruntime execution provider cpu, ${o.ortThreads ?? 1} intra-op thread(s)`);
      const prng = createRng(seed + 1);
      const prompts = makePrompts(nPrompts, pool, prefix, questions, zipf, prng, profile.maxContext - 40, o.chunksPerPrompt ?? [3, 5]);
      if (o.nameQuestions) for (const pr of prompts) pr.parts.question = nameQuestion(pr.parts.chunks, engine, pr.parts.question);
      // First sightings: each passage is computed and cached inside another prompt (other order, other neighbours).
      for (const pr of prompts) {
        const shuffled = [...pr.parts.chunks].reverse();
        await engine.assemble({ ...pr.parts, chunks: shuffled }, { strategy: 'none' });
      }
      // Warm the probe graph and ORT's allocations outside the measurements.
      await engine.assemble(prompts[0].parts, { strategy: 'kv-deviation', store: false });
      await engine.fullPrefill(prompts[0].parts);
      for (const strategy of ['kv-deviation', 'cache-craft'] as const) await engine.assemble(prompts[0].parts, { strategy, singlePass: true, store: false }); // both single-pass graphs built

      type Config = { strategy: RecomputeStrategy; fraction: number; batched: boolean; singlePass: boolean };
      const configs: Config[] = [{ strategy: 'none', fraction: 0, batched: false, singlePass: false }];
      for (const f of fractions) {
        if (f === 0) continue;
        if (f === 1) configs.push({ strategy: 'full', fraction: 1, batched: false, singlePass: false });
        else for (const s of ['first-k', 'kv-deviation', 'cache-craft'] as const) configs.push({ strategy: s, fraction: f, batched: false, singlePass: false });
      }
      // The same at 15% with every recompute run in one batched call (the batchRecompute option).
      if (fractions.includes(0.15) && (o.batched ?? true)) for (const s of ['kv-deviation', 'cache-craft'] as const) configs.push({ strategy: s, fraction: 0.15, batched: true, singlePass: false });
      // Every fraction again in one call of the single-pass graph (CacheBlend's in-graph selection, and Cache-Craft's given one).
      configs.push({ strategy: 'none', fraction: 0, batched: false, singlePass: true });
      for (const f of fractions) {
        if (f === 0) continue;
        if (f === 1) configs.push({ strategy: 'full', fraction: 1, batched: false, singlePass: true });
        else for (const s of ['kv-deviation', 'cache-craft'] as const) configs.push({ strategy: s, fraction: f, batched: false, singlePass: true });
      }
      const acc = configs.map(() => ({ top1: 0, kl: 0, em: 0, agree: 0, ttft: [] as number[], lookup: [] as number[], rotate: [] as number[], compute: [] as number[], probe: [] as number[], calls: [] as number[], reused: 0, recomputed: 0 }));
      const fullMs: number[] = [];
      const prefixMs: number[] = [];
      for (const pr of prompts) {
        const full = await engine.fullPrefill(pr.parts);
        fullMs.push(full.report.ttftMs);
        const fullGreedy = quality ? await greedy(engine, full) : [];
        const po = await engine.assemble(pr.parts, { reuseChunks: false, store: false });
        prefixMs.push(po.report.ttftMs);
        for (let c = 0; c < configs.length; c++) {
          const a = await engine.assemble(pr.parts, { strategy: configs[c].strategy, fraction: configs[c].fraction, batchRecompute: configs[c].batched, singlePass: configs[c].singlePass, selectionBlock: o.selectionBlock ?? 1, store: false });
          const r = acc[c];
          r.ttft.push(a.report.ttftMs);
          r.lookup.push(a.report.lookupMs);
          r.rotate.push(a.report.rotateMs);
          r.compute.push(a.report.computeMs);
          r.probe.push(a.report.probeMs);
          r.calls.push(a.report.onnxCalls);
          r.reused += a.report.reusedTokens;
          r.recomputed += a.report.recomputedTokens;
          if (quality) {
            r.top1 += argmax(a.logits) === argmax(full.logits) ? 1 : 0;
            r.kl += kl(full.logits, a.logits);
            const g = await greedy(engine, a);
            r.em += g.length >= 32 && fullGreedy.length >= 32 && g.slice(0, 32).every((t, i) => t === fullGreedy[i]) ? 1 : 0;
            let same = 0;
            for (let i = 0; i < 64; i++) if (g[i] !== undefined && g[i] === fullGreedy[i]) same++;
            r.agree += same / 64;
          }
        }
      }
      const n = prompts.length;
      rows.push(
        { model: name, strategy: 'full-prefill', batched: false, singlePass: false, targetFraction: 1, recomputeFraction: 1, top1Agreement: quality ? 1 : null, kl: quality ? 0 : null, exactMatch32: quality ? 1 : null, agree64: quality ? 1 : null, ttftMs: median(fullMs), fullPrefillMs: median(fullMs), prefixOnlyMs: median(prefixMs), lookupMs: 0, rotateMs: 0, computeMs: median(fullMs), probeMs: 0, onnxCalls: 1, prompts: n },
      );
      configs.forEach((cfg, c) => {
        const r = acc[c];
        rows.push({
          model: name,
          strategy: cfg.strategy,
          batched: cfg.batched,
          singlePass: cfg.singlePass,
          targetFraction: cfg.fraction,
          recomputeFraction: r.reused ? r.recomputed / r.reused : 0,
          top1Agreement: quality ? r.top1 / n : null,
          kl: quality ? r.kl / n : null,
          exactMatch32: quality ? r.em / n : null,
          agree64: quality ? r.agree / n : null,
          ttftMs: median(r.ttft),
          fullPrefillMs: median(fullMs),
          prefixOnlyMs: median(prefixMs),
          lookupMs: median(r.lookup),
          rotateMs: median(r.rotate),
          computeMs: median(r.compute),
          probeMs: median(r.probe),
          onnxCalls: median(r.calls),
          prompts: n,
        });
      });
      const mine = rows.filter((r) => r.model === name);
      log(
        formatTable(mine, [
          { title: 'strategy', value: (r) => `${r.strategy}${r.batched ? ' (batched)' : ''}${r.singlePass ? ' (single pass)' : ''}` },
          { title: 'target', value: (r) => r.targetFraction.toFixed(2) },
          { title: 'recomputed', value: (r) => r.recomputeFraction.toFixed(3) },
          { title: 'top-1', value: (r) => (r.top1Agreement === null ? '-' : r.top1Agreement.toFixed(3)) },
          { title: 'KL', value: (r) => (r.kl === null ? '-' : r.kl.toExponential(2)) },
          { title: 'greedy32 =', value: (r) => (r.exactMatch32 === null ? '-' : r.exactMatch32.toFixed(3)) },
          { title: 'agree64', value: (r) => (r.agree64 === null ? '-' : r.agree64.toFixed(3)) },
          { title: 'TTFT ms', value: (r) => r.ttftMs.toFixed(2) },
          { title: 'vs full', value: (r) => `${(r.fullPrefillMs / r.ttftMs).toFixed(2)}x` },
          { title: 'vs prefix', value: (r) => `${(r.prefixOnlyMs / r.ttftMs).toFixed(2)}x` },
          { title: 'I/O ms', value: (r) => r.lookupMs.toFixed(2) },
          { title: 'rotate ms', value: (r) => r.rotateMs.toFixed(2) },
          { title: 'model ms', value: (r) => r.computeMs.toFixed(2) },
          { title: 'probe ms', value: (r) => r.probeMs.toFixed(2) },
          { title: 'calls', value: (r) => String(r.onnxCalls) },
        ]),
      );
      log(`full prefill ${median(fullMs).toFixed(2)} ms, prefix caching alone ${median(prefixMs).toFixed(2)} ms (medians over ${n} prompts)`);

      // Isolation: tenant O caches a prompt; tenant G (a guess) and tenant C (a first sighting) assemble
      // it in their own namespaces, in alternating order; O's own repeat shows what reuse would look like.
      const guess: number[] = [];
      const miss: number[] = [];
      const ownHit: number[] = [];
      let guessReuses = 0;
      for (let i = 0; i < prompts.length; i++) {
        const parts = prompts[i].parts;
        await engine.assemble(parts, { namespace: `owner-${i}` });
        const runGuess = async () => {
          const a = await engine.assemble(parts, { namespace: `guess-${i}`, store: false });
          if (a.report.prefixReused + a.report.chunkHits > 0) guessReuses++;
          guess.push(a.report.ttftMs);
        };
        const runMiss = async () => miss.push((await engine.assemble(parts, { namespace: `first-${i}`, store: false })).report.ttftMs);
        if (i % 2 === 0) (await runGuess(), await runMiss());
        else (await runMiss(), await runGuess());
        ownHit.push((await engine.assemble(parts, { namespace: `owner-${i}`, store: false })).report.ttftMs);
      }
      const iso: IsolationRow = { model: name, prompts: prompts.length, guessMs: median(guess), missMs: median(miss), ownHitMs: median(ownHit), guessReuses };
      isolation.push(iso);
      log(
        `\nisolation (${iso.prompts} prompts, cache-craft 15%): a tenant's TTFT for a prompt another tenant cached ${iso.guessMs.toFixed(2)} ms vs a first sighting ${iso.missMs.toFixed(2)} ms ` +
          `(ratio ${(iso.guessMs / iso.missMs).toFixed(3)}); reuse in ${iso.guessReuses} of them; the owner's own repeat ${iso.ownHitMs.toFixed(2)} ms`,
      );

      // Hit rates (--hit-prompts 0: skipped, e.g. on large models where computing every passage alone is slow).
      if ((o.hitPrompts ?? 1000) > 0) {
        // Hit rates: 1,000 Zipf prompts through the store under each policy, same budgets.
        const entries = new Map<number, ChunkEntry & { cost: number }>();
        for (let i = 0; i < pool.length; i++) {
          const t = performance.now();
          const alone = await engine.model.forward([1, ...pool[i]], [0, ...pool[i].map((_, j) => j + 1)]);
          const ms = performance.now() - t;
          entries.set(i, { tokens: Int32Array.from(pool[i]), basePosition: 1, cache: sliceCache(alone.cache, 1, 1 + pool[i].length), deviation: null, recomputeMs: ms, cost: pool[i].length });
        }
        const replay = makePrompts(o.hitPrompts ?? 1000, pool, prefix, questions, zipf, createRng(seed + 2), profile.maxContext - 40, o.chunksPerPrompt ?? [3, 5]);
        const probeStore = ChunkKvStore.open(join(work, `${name}-size`), {});
        await probeStore.put('x', entries.get(0)!, 1);
        const entryBytes = (probeStore.getBlob('x')?.length ?? 0) / pool[0].length; // per token, encoded
        await probeStore.close();
        const poolBytes = pool.reduce((s, p) => s + p.length, 0) * entryBytes;
        const diskBudget = Math.round(poolBytes * 0.25);
        const memoryBudget = 0;
        for (const policy of ['gdsf', 'lru'] as const) {
          const store = ChunkKvStore.open(join(work, `${name}-${policy}`), { policy, diskBytes: diskBudget, memoryBytes: memoryBudget });
          for (const pr of replay) {
            for (const i of pr.ids) {
              const key = engine.chunkKey(pool[i]);
              if (!store.get(key)) await store.put(key, entries.get(i)!, entries.get(i)!.cost);
            }
          }
          const s = store.stats();
          hitRates.push({ model: name, policy, prompts: replay.length, memoryBudget, diskBudget, hitRate: s.hitRate, memoryHits: s.memory.hits, diskHits: s.disk.hits, lookups: s.lookups, evictions: s.evictions });
          await store.close();
        }
        // Two tenants, skewed: "heavy" sends 90% of the prompts, "light" 10%, each in its own namespace
        // over the same passage pool; GDSF with and without fair share, same budget.
        const trng = createRng(seed + 3);
        const who = replay.map(() => (trng.next() < 0.9 ? 'heavy' : 'light'));
        for (const fairShare of [false, true]) {
          const store = ChunkKvStore.open(join(work, `${name}-tenants-${fairShare}`), { policy: 'gdsf', diskBytes: diskBudget, memoryBytes: memoryBudget, fairShare });
          for (let p = 0; p < replay.length; p++) {
            for (const i of replay[p].ids) {
              const key = engine.chunkKey(pool[i], who[p]);
              if (!store.get(key)) await store.put(key, entries.get(i)!, entries.get(i)!.cost);
            }
          }
          for (const tenant of ['heavy', 'light']) {
            const t = store.stats(tenant);
            tenantHitRates.push({ model: name, fairShare, tenant, traffic: who.filter((w) => w === tenant).length / who.length, hitRate: t.hitRate, lookups: t.lookups, bytes: t.disk.bytes, diskBudget });
          }
          await store.close();
        }
        log(
          `\nchunk hit rate over ${replay.length} prompts, disk budget ${fmtBytes(diskBudget)} (25% of the pool's ${fmtBytes(poolBytes)} at fp16), memory tier off:\n` +
            formatTable(
              hitRates.filter((h) => h.model === name),
              [
                { title: 'policy', value: (h) => h.policy },
                { title: 'hit rate', value: (h) => h.hitRate.toFixed(3) },
                { title: 'lookups', value: (h) => String(h.lookups) },
                { title: 'evictions', value: (h) => String(h.evictions) },
              ],
            ),
        );
        log(
          `\nchunk hit rate per tenant, two tenants (90% / 10% of the prompts), GDSF, same disk budget:\n` +
            formatTable(
              tenantHitRates.filter((h) => h.model === name),
              [
                { title: 'fair share', value: (h) => (h.fairShare ? 'on' : 'off') },
                { title: 'tenant', value: (h) => h.tenant },
                { title: 'traffic', value: (h) => `${(h.traffic * 100).toFixed(0)}%` },
                { title: 'hit rate', value: (h) => h.hitRate.toFixed(3) },
                { title: 'lookups', value: (h) => String(h.lookups) },
                { title: 'disk held', value: (h) => `${((h.bytes / h.diskBudget) * 100).toFixed(0)}%` },
              ],
            ),
        );
      }
      await engine.close();
    }
    const result = { rows, hitRates, isolation, tenantHitRates };
    if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
    if (o.svg) writeFileSync(o.svg, kvQualitySvg(rows));
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Greedy 32-token exact match vs recompute fraction, one line per strategy (stories260K rows). */
export function kvQualitySvg(rows: readonly KvRow[]): string {
  const q = rows.filter((r) => r.exactMatch32 !== null && r.strategy !== 'full-prefill' && !r.batched && !r.singlePass);
  const series = (['first-k', 'kv-deviation', 'cache-craft'] as const).map((s) => ({
    name: s,
    points: q.filter((r) => r.strategy === s || r.strategy === 'none' || r.strategy === 'full').map((r) => ({ x: r.recomputeFraction, y: r.exactMatch32 as number, label: `${r.strategy} target ${r.targetFraction}` })),
  }));
  return lineChartSvg(`${q[0]?.model ?? ''}: greedy 32-token exact match with full prefill vs share of reused tokens recomputed`, series, 'recomputed fraction of reused chunk tokens', 'greedy-32 exact match (share of prompts)');
}

/** The 64 greedy tokens after an assembled prompt (EOS ends them early). */
async function greedy(engine: KvEngine, a: Assembled): Promise<number[]> {
  const { tokens } = await decodeFrom(engine.model, a.cache, a.logits, a.position, { maxTokens: 64 });
  return tokens;
}

/** Names stories260K's stories use. */
const NAMES = ['Lily', 'Tim', 'Timmy', 'Ben', 'Sue', 'Tom', 'Max', 'Mia', 'Sam', 'Anna', 'Jack', 'Lucy', 'Bob', 'Spot', 'Amy', 'Sara', 'Sarah', 'Mark', 'Jill', 'Billy', 'Mittens', 'Kitty', 'Lola', 'Zoe', 'Joe'];

/**
 * A question naming a character of an earlier passage than the last ("Then Lily said,"), so the
 * continuation depends on what that passage told; the given question when no passage but the last
 * names one.
 */
function nameQuestion(chunks: number[][], engine: KvEngine, fallback: number[]): number[] {
  for (let c = 0; c < chunks.length - 1; c++) {
    const text = engine.tokenizer.decode(chunks[c]);
    const name = NAMES.find((n) => new RegExp(`\\b${n}\\b`).test(text) && !new RegExp(`\\b${n}\\b`).test(engine.tokenizer.decode(chunks[chunks.length - 1])));
    if (name) return engine.tokenizer.encode(`Then ${name} said,`, false);
  }
  return fallback;
}
