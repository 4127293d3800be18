#!/usr/bin/env -S node --single-threaded-gc
/** The `strata` command line: datasets, benchmarks, the service, RAG ingest/query/eval and a small demo. */
import { Command } from 'commander';
import { positiveInt } from '../util/cli-args.js';
import { isStrataError } from '../errors.js';
import { prepareDataset } from '../datasets/registry.js';
import { DEFAULT_SYNTHETIC } from '../datasets/synthetic.js';
import { DEFAULT_ANISO } from '../datasets/synthetic-aniso.js';
import { createProgress } from '../util/progress.js';
import { runDemo } from './demo.js';
import { addRagCommands } from './rag-commands.js';
import { addKvCommands } from './kv-commands.js';
import { addModelCommands } from './model-commands.js';
import { addIndexCommands } from './index-commands.js';
import { exitWithParent, relaunchWithSingleThreadedGc } from '../util/gc.js';
import { describeSettings, SETTINGS } from '../server/config.js';

const program = new Command();
program
  .name('strata')
  .description('Strata: a disk-hybrid (SPANN-style) vector retrieval engine. Heads in memory, posting lists in LMDB.')
  .showHelpAfterError();

program
  .command('datasets')
  .description('Prepare a named dataset into datasets/<name>: vectors as .fbin plus top-100 ground truth from exact search.')
  .argument('<name>', 'fashion-mnist | synthetic | synthetic-<n>[k|m]-<dim> (e.g. synthetic-1m-96) | synthetic-aniso[-<n>[k|m]-<dim>] (hard data, 200k x 96 by default)')
  .option('--n <n>', 'generated sets: number of base vectors', positiveInt('--n'))
  .option('--dim <d>', 'generated sets: dimension', positiveInt('--dim'))
  .option('--clusters <c>', `generated sets: mixture components (default ${DEFAULT_SYNTHETIC.clusters}; aniso ${DEFAULT_ANISO.clusters})`, positiveInt('--clusters'))
  .option('--spread <s>', `generated sets: noise scale (default ${DEFAULT_SYNTHETIC.spread}; aniso ${DEFAULT_ANISO.spread}, relative to the centres' spread)`, parseFloat)
  .option('--zipf <a>', `synthetic-aniso: Zipf exponent of the cluster sizes (default ${DEFAULT_ANISO.zipf})`, parseFloat)
  .option('--seed <s>', `generated sets: seed (default ${DEFAULT_SYNTHETIC.seed}; aniso ${DEFAULT_ANISO.seed})`, positiveInt('--seed'))
  .option('--queries <q>', 'generated sets: number of queries (default 1000)', positiveInt('--queries'))
  .option('--force', 'rebuild even if the dataset is already prepared')
  .addHelpText('after', `
Fashion-MNIST comes from the Debian package dataset-fashion-mnist:
  apt-get update && apt-get install -y dataset-fashion-mnist
Examples:
  strata datasets fashion-mnist
  strata datasets synthetic-1m-96
  strata datasets synthetic --n 20000 --dim 64 --clusters 50
  strata datasets synthetic-aniso`)
  .action(async (name: string, opts) => {
    const ui = createProgress();
    const synthetic = Object.fromEntries(Object.entries({ n: opts.n, dim: opts.dim, clusters: opts.clusters, spread: opts.spread, zipf: opts.zipf, seed: opts.seed, queries: opts.queries }).filter(([, v]) => v !== undefined));
    const dir = await prepareDataset(name, { synthetic, force: Boolean(opts.force), report: ui.update });
    ui.stop();
    console.log(`ready: ${dir}`);
  });

program
  .command('bench')
  .description('Benchmarks that compare Strata with its peers in one run: ann, codecs, filter, updates, http, kernels, kv (strata bench --help).')
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument('[args...]', 'a benchmark and its options')
  .action(async () => {
    // The benchmarks have their own entry point, loaded only here: their dependencies are not the CLI's.
    const { runBenchCli } = await import('../../bench/cli.js');
    await runBenchCli(process.argv.slice(process.argv.indexOf('bench') + 1));
  });

program
  .command('serve')
  .description('Run the HTTP service (fastify) on the embedded default: LMDB indexes under --data-dir, no other server. `npm start` runs this. With --store: a stateless query node on indexes published to object storage.')
  .option('--port <n>', 'TCP port')
  .option('--host <host>', 'interface to listen on')
  .option('--data-dir <dir>', 'folder of keys, catalogue and indexes')
  .option('--search-threads <n>', 'search worker threads per collection')
  .option('--max-pending-queries <n>', 'queries in flight before searches are shed (503)')
  .option('--max-pending-writes <n>', 'writes in flight (upserts, deletes, ingests, generations) before more are shed (503)')
  .option('--body-limit <bytes>', 'largest request body')
  .option('--max-batch-points <n>', 'most points per upsert, ids per delete')
  .option('--max-batch-queries <n>', 'most queries per batch search')
  .option('--max-k <n>', 'largest k of a search')
  .option('--max-dimension <n>', 'largest collection dimension')
  .option('--retry-after <s>', 'Retry-After seconds of a 503')
  .option('--shutdown-timeout-ms <ms>', 'how long SIGTERM waits for requests in flight')
  .option('--rag-model <dir>', 'sentence-encoder folder the corpora (RAG routes) embed with')
  .option('--embed-threads <n>', 'embedding worker threads shared by the corpora')
  .option('--max-batch-documents <n>', 'most documents per ingest request')
  .option('--kv-model <name|file>', 'decoder model of the KV-cache routes')
  .option('--log-level <level>', 'pino log level')
  .option('--store <url>', 'query node: serve the indexes published under s3://bucket/prefix (one folder per collection)')
  .option('--cache-dir <dir>', 'query node: cache folder')
  .option('--cache-size <MiB>', 'query node: posting-cache bound per collection')
  .option('--node-url <url>', "query node: this node's URL as its peers reach it")
  .option('--peers <urls>', "query node: the other nodes' URLs, comma-separated")
  .option('--follow-ms <ms>', 'query node: how often logs and manifests are followed')
  .option('--forward-timeout-ms <ms>', "query node: how long a query waits for its collection's owner")
  .option('--parallel-gc', "keep V8's default GC helper threads (default: relaunch with --single-threaded-gc, see src/util/gc.ts)")
  .addHelpText('after', () => `
Every setting, its environment variable and default (flags win over the environment):
${describeSettings()}
  STRATA_ADMIN_KEY (environment only): the admin key. Unset, the first start generates one, prints it
  once and stores its hash in <data-dir>/service.

API: /docs (OpenAPI UI), /openapi.json via /docs/json, /healthz, /readyz, /metrics; /v1/... (README).
Example: STRATA_ADMIN_KEY=change-me-please-0123 strata serve --port 8700 --data-dir ./data

Query nodes on object storage (README, "Past one machine"): publish indexes to s3://bucket/prefix/<name>
(strata index publish), then on each node, with the same STRATA_ADMIN_KEY and STRATA_S3_* settings:
  strata serve --store s3://strata/prod --cache-dir /nvme/strata --cache-size 4096 \
    --port 8701 --peers http://10.0.0.2:8701,http://10.0.0.3:8701 --node-url http://10.0.0.1:8701
Searches go to each collection's owner node (rendezvous hashing) and are answered by the node that
received them when the owner is down; writes go to the collection's log on the store, and
\`strata index apply\` folds the log into a new manifest that every node follows.`)
  .action(async (opts) => {
    if (!opts.parallelGc && (await relaunchWithSingleThreadedGc())) return;
    const flags: Record<string, unknown> = {};
    for (const s of SETTINGS) {
      const camel = s.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      if (opts[camel] !== undefined) flags[s.key] = opts[camel];
    }
    const { runServer } = await import('../server/main.js');
    await runServer(flags);
  });

addRagCommands(program);
addKvCommands(program);
addModelCommands(program);
addIndexCommands(program);

program
  .command('demo')
  .description('A small end-to-end run on the embedded default: build an index in a local folder, search it, reopen it.')
  .option('--dir <dir>', 'index folder', '.strata-demo')
  .action(async (opts) => {
    await runDemo(opts.dir);
  });

exitWithParent();
program.parseAsync(process.argv).catch((err: unknown) => {
  if (isStrataError(err)) {
    console.error(`error: ${err.message}`);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
