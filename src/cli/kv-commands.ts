/** `strata kv ...` (chunk KV cache: gate, generate with retrieval and cache reuse, store stats) and `strata bench kv`. */
import { type Command, Option } from 'commander';
import { fractionArg, nonNegativeInt, positiveInt } from './args.js';
import { Corpus } from '../rag/corpus.js';
import { KvEngine } from '../kv/engine.js';
import { resolveProfile } from '../kv/profiles.js';
import { RECOMPUTE_STRATEGIES, type RecomputeStrategy } from '../kv/recompute.js';
import { DEFAULT_MODEL_DIR } from '../rag/defaults.js';

export const DEFAULT_KV_DIR = '.strata-kv';

/** Open the engine of --model over --cache-dir, run `fn`, close. */
async function withEngine(opts: { model: string; cacheDir: string }, fn: (engine: KvEngine) => Promise<void>): Promise<void> {
  const engine = await KvEngine.open(resolveProfile(opts.model), opts.cacheDir);
  try {
    await fn(engine);
  } finally {
    await engine.close();
  }
}

export function addKvCommands(program: Command, bench: Command): void {
  const kv = program.command('kv').description('Chunk KV cache: reuse the transformer KV caches of retrieved passages (RoPE re-rotation + selective recompute).');

  kv.command('gate')
    .description("Register a model and report the re-rotation gate: does a chunk's cache moved to a new offset equal a fresh computation there?")
    .option('--model <name|file>', 'stories260K, llama-random-6M, tiny-random-gpt2, or a profile JSON file', 'stories260K')
    .option('--cache-dir <dir>', 'chunk store folder', DEFAULT_KV_DIR)
    .action(async (opts) =>
      withEngine(opts, async (engine) => {
        const g = engine.gate;
        console.log(`${engine.profile.name}: ${engine.model.layers} layers, ${engine.model.kvHeads} KV heads x ${engine.model.headDim}, ${engine.model.naming} KV I/O`);
        console.log(`gate: ${g.rerotation ? 'PASSED: chunks may be re-rotated' : 'FAILED: prefix reuse only'} (relative error ${g.relError.toExponential(2)}, tolerance ${g.tolerance}, ${g.tokens} tokens moved by ${g.offset})`);
      }),
    );

  kv.command('generate')
    .description('Retrieve passages from a corpus (strata ingest), assemble the prompt from cached chunk KV caches, and generate.')
    .argument('<question>', 'the question (also the retrieval query)')
    .option('--model <name|file>', 'decoder model', 'stories260K')
    .option('--corpus <dir>', 'corpus folder to retrieve from (omit: no passages)')
    .option('--rag-model <dir>', `the corpus's encoder (default: the one it was built with, else ${DEFAULT_MODEL_DIR})`)
    .option('--tenant <name>', 'tenant to retrieve from', 'default')
    .option('--k <n>', 'passages', positiveInt('--k'), 3)
    .option('--system <text>', 'text before the passages', '')
    .addOption(new Option('--strategy <s>', 'tokens recomputed in reused chunks').choices([...RECOMPUTE_STRATEGIES]).default('cache-craft'))
    .option('--fraction <f>', 'share of reused tokens recomputed', fractionArg('--fraction'), 0.15)
    .option('--max-tokens <n>', 'tokens to generate', positiveInt('--max-tokens'), 64)
    .option('--temperature <t>', '0 = greedy', parseFloat, 0)
    .option('--seed <n>', 'sampling seed', nonNegativeInt('--seed'), 1)
    .option('--cache-dir <dir>', 'chunk store folder', DEFAULT_KV_DIR)
    .action(async (question: string, opts) =>
      withEngine(opts, async (engine) => {
        let passages: string[] = [];
        let namespace: string | undefined;
        if (opts.corpus) {
          const corpus = await Corpus.open(opts.corpus, { model: opts.ragModel ?? (await Corpus.storedModelDir(opts.corpus)) ?? DEFAULT_MODEL_DIR, embedder: { threads: 1 } });
          try {
            passages = (await corpus.retrieve(question, { tenant: opts.tenant, k: opts.k })).map((p) => p.text);
            namespace = corpus.kvNamespace(opts.tenant);
          } finally {
            await corpus.close();
          }
        }
        const parts = engine.encodePrompt({ system: opts.system, passages, question });
        const a = await engine.assemble(parts, { strategy: opts.strategy as RecomputeStrategy, fraction: opts.fraction, namespace });
        const tokens = await engine.generate(a, { maxTokens: opts.maxTokens, temperature: opts.temperature, seed: opts.seed });
        console.log(engine.tokenizer.decode(tokens));
        const r = a.report;
        console.error(
          `\n[${r.strategy}] ${r.promptTokens} prompt tokens: prefix reused ${r.prefixReused}, chunks ${r.chunkHits} hit / ${r.chunkMisses} miss, recomputed ${r.recomputedTokens}/${r.reusedTokens} reused tokens; TTFT ${r.ttftMs.toFixed(1)} ms (I/O ${r.lookupMs.toFixed(1)}, rotate ${r.rotateMs.toFixed(1)}, model ${r.computeMs.toFixed(1)}, probe ${r.probeMs.toFixed(1)}), stored in ${r.storeMs.toFixed(1)} ms`,
        );
      }),
    );

  kv.command('stats')
    .description('Entries, bytes and hit counts of a chunk store.')
    .option('--model <name|file>', 'decoder model', 'stories260K')
    .option('--cache-dir <dir>', 'chunk store folder', DEFAULT_KV_DIR)
    .action(async (opts) =>
      withEngine(opts, async (engine) => {
        console.log(JSON.stringify({ chunks: engine.chunks.stats(), prefixes: engine.prefixes.stats() }, null, 2));
      }),
    );

  bench
    .command('kv')
    .description('Chunk KV-cache reuse: quality vs recompute fraction per strategy, TTFT vs full prefill and prefix caching, tenant isolation timing, hit rates GDSF vs LRU and per tenant with fair share.')
    .option('--models <list>', 'comma-separated models (quality figures come from stories260K only)', 'stories260K,llama-random-6M')
    .option('--prompts <n>', 'prompts measured per model', positiveInt('--prompts'), 40)
    .option('--passages <n>', 'passages in the pool', positiveInt('--passages'), 60)
    .option('--hit-prompts <n>', 'prompts replayed for the hit-rate comparison', positiveInt('--hit-prompts'), 1000)
    .option('--fractions <list>', 'recompute fractions', '0,0.05,0.15,0.3,1')
    .option('--zipf <s>', 'Zipf exponent of passage popularity', parseFloat, 1.0)
    .option('--seed <n>', 'seed', nonNegativeInt('--seed'), 7)
    .option('--selection-block <n>', 'kv-deviation and cache-craft choose blocks of this many tokens', positiveInt('--selection-block'), 1)
    .option('--json <file>', 'write {rows, hitRates, isolation, tenantHitRates}')
    .option('--svg <file>', 'plot top-1 agreement vs recompute fraction')
    .addHelpText('after', `
Passages are stories stories260K writes itself (64-128 tokens of tok512); prompts are a system line,
3-5 Zipf-drawn passages in random order and a short question, within 512 tokens. Each passage is
cached in another prompt first. Per prompt, in the same loop: full prefill, prefix caching alone,
and every strategy x fraction. Example: strata bench kv --json kv.json --svg kv.svg`)
    .action(async (opts) => {
      const { runKvBench } = await import('../../bench/kv.js');
      await runKvBench({
        models: String(opts.models).split(',').map((s) => s.trim()),
        prompts: opts.prompts,
        passages: opts.passages,
        hitPrompts: opts.hitPrompts,
        fractions: String(opts.fractions).split(',').map((s) => fractionArg('--fractions')(s.trim())),
        zipf: opts.zipf,
        seed: opts.seed,
        selectionBlock: opts.selectionBlock,
        json: opts.json,
        svg: opts.svg,
      });
    });
}
