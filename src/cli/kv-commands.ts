/** `strata kv ...` (chunk KV cache: gate, generate with retrieval and cache reuse, store stats). */
import { type Command, Option } from 'commander';
import { fractionArg, nonNegativeInt, positiveInt } from '../util/cli-args.js';
import { Corpus } from '../rag/corpus.js';
import { KvEngine } from '../kv/engine.js';
import { resolveProfile } from '../kv/profiles.js';
import { DEFAULT_RECOMPUTE, RECOMPUTE_STRATEGIES, type RecomputeStrategy } from '../kv/recompute.js';
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

export function addKvCommands(program: Command): void {
  const kv = program.command('kv').description('Chunk KV cache: reuse the transformer KV caches of retrieved passages (RoPE re-rotation + selective recompute).');

  kv.command('gate')
    .description("Register a model and report the re-rotation gate: does a chunk's cache moved to a new offset equal a fresh computation there?")
    .option('--model <name|file>', 'stories260K, llama-random-6M, llama-random-25M, llama-random-86M, tiny-random-gpt2, or a profile JSON file', 'stories260K')
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
    .addOption(new Option('--strategy <s>', 'tokens recomputed in reused chunks').choices([...RECOMPUTE_STRATEGIES]).default(DEFAULT_RECOMPUTE.strategy))
    .option('--fraction <f>', 'share of reused tokens recomputed', fractionArg('--fraction'), DEFAULT_RECOMPUTE.fraction)
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
}
