#!/usr/bin/env -S node --single-threaded-gc
/** The `strata` command line: datasets, benchmarks, the service, RAG ingest/query/eval and a small demo. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { positiveInt } from './args.js';
import { isStrataError } from '../errors.js';
import { prepareDataset } from '../datasets/registry.js';
import { createProgress } from '../util/progress.js';
import { runAnnBench, ENGINES } from '../../bench/ann.js';
import { runKernelBench } from '../../bench/kernels.js';
import { runFilterBench } from '../../bench/filter.js';
import { FILTER_ENGINES, type FilterEngineName } from '../../bench/filter-workload.js';
import { runCodecBench, DEFAULT_CODEC_SPECS } from '../../bench/codecs.js';
import type { EngineName } from '../../bench/engines.js';
import { runUpdateBench } from '../../bench/updates.js';
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
  .argument('<name>', 'fashion-mnist | synthetic | synthetic-<n>[k|m]-<dim> (e.g. synthetic-1m-96)')
  .option('--n <n>', 'synthetic: number of base vectors', positiveInt('--n'))
  .option('--dim <d>', 'synthetic: dimension', positiveInt('--dim'))
  .option('--clusters <c>', 'synthetic: Gaussian mixture components (default 1000)', positiveInt('--clusters'))
  .option('--spread <s>', 'synthetic: noise standard deviation (default 0.15)', parseFloat)
  .option('--seed <s>', 'synthetic: seed (default 7)', positiveInt('--seed'))
  .option('--queries <q>', 'synthetic: number of queries (default 1000)', positiveInt('--queries'))
  .option('--force', 'rebuild even if the dataset is already prepared')
  .addHelpText('after', `
Fashion-MNIST comes from the Debian package dataset-fashion-mnist:
  apt-get update && apt-get install -y dataset-fashion-mnist
Examples:
  strata datasets fashion-mnist
  strata datasets synthetic-1m-96
  strata datasets synthetic --n 20000 --dim 64 --clusters 50`)
  .action(async (name: string, opts) => {
    const ui = createProgress();
    const synthetic = Object.fromEntries(Object.entries({ n: opts.n, dim: opts.dim, clusters: opts.clusters, spread: opts.spread, seed: opts.seed, queries: opts.queries }).filter(([, v]) => v !== undefined));
    const dir = await prepareDataset(name, { synthetic, force: Boolean(opts.force), report: ui.update });
    ui.stop();
    console.log(`ready: ${dir}`);
  });

const bench = program.command('bench').description('Benchmarks that compare Strata with its peers in one run.');
bench
  .command('ann')
  .description('Recall/QPS/latency/memory/disk of strata vs hnswlib-node (all vectors in memory) vs exact search.')
  .requiredOption('--dataset <name|path>', 'a dataset name (see `strata datasets`), an ann-benchmarks HDF5 file, or a folder with base/query[/groundtruth] vector files')
  .option('--k <k>', 'neighbours per query', positiveInt('--k'), 10)
  .option('--sweep', 'sweep many search settings per engine (default: three)')
  .addOption(new Option('--engines <list>', 'comma-separated engines').default(ENGINES.join(',')))
  .option('--queries <n>', 'measure the first n queries', positiveInt('--queries'), 2000)
  .option('--threads <n>', 'worker threads for builds and all-core QPS (default: all cores)', positiveInt('--threads'))
  .option('--rebuild', 'rebuild indexes even if a previous run left them')
  .option('--json <file>', 'write the rows as JSON')
  .option('--svg <file>', 'write a recall-vs-QPS plot')
  .addHelpText('after', `
Each engine is built and then measured in a process of its own. Columns:
  QPS 1T     queries/s, one query at a time in one thread      QPS all   batch search on all cores
  RssAnon    anonymous resident memory added by opening the index and running its queries
             (LMDB's mapped file pages are not anonymous and not counted)
  disk       index bytes on disk                                read/query  posting bytes read per query
Indexes are cached under datasets/<name>/indexes and reused unless --rebuild.`)
  .action(async (opts) => {
    const engines = String(opts.engines).split(',').map((s) => s.trim()) as EngineName[];
    for (const e of engines) if (!ENGINES.includes(e)) throw new InvalidArgumentError(`unknown engine ${e}; choose from ${ENGINES.join(', ')}`);
    await runAnnBench({ dataset: opts.dataset, k: opts.k, sweep: Boolean(opts.sweep), engines, queries: opts.queries, rebuild: Boolean(opts.rebuild), threads: opts.threads ?? 0, json: opts.json, svg: opts.svg });
  });

bench
  .command('codecs')
  .description('Posting-list codecs side by side: bytes/vector, compression, recall@k and QPS at the same search settings.')
  .requiredOption('--dataset <name|path>', 'a dataset name, an ann-benchmarks HDF5 file, or a folder of vector files')
  .option('--specs <list>', 'semicolon-separated index specs', DEFAULT_CODEC_SPECS.join(';'))
  .option('--max-lists <list>', 'comma-separated maxLists settings, the same for every spec', '8,16,32')
  .option('--k <k>', 'neighbours per query', positiveInt('--k'), 10)
  .option('--queries <n>', 'measure the first n queries', positiveInt('--queries'), 2000)
  .option('--rebuild', 'rebuild indexes even if a previous run left them')
  .option('--json <file>', 'write the rows as JSON')
  .addHelpText('after', `
Specs: SPANN (float32 lists), SPANN,F8E4M3 / SPANN,F8E5M2 (OCP float8 casts), SPANN,INT8 (per-dimension
min/max), and ,Refine to re-rank refineFactor × k candidates from full-precision vectors.
Example: strata bench codecs --dataset fashion-mnist --specs "SPANN;SPANN,F8E4M3;SPANN,INT8" --json codecs.json`)
  .action(async (opts) => {
    const maxLists = String(opts.maxLists).split(',').map((x) => positiveInt('--max-lists')(x.trim()));
    await runCodecBench({ dataset: opts.dataset, specs: String(opts.specs).split(';').map((s) => s.trim()).filter(Boolean), k: opts.k, maxLists, queries: opts.queries, rebuild: Boolean(opts.rebuild), json: opts.json });
  });

bench
  .command('filter')
  .description('Filtered and multi-tenant search (VectorDBBench-style cases) against hnswlib with a filter callback and one index per tenant.')
  .requiredOption('--dataset <name|path>', 'a dataset name, an ann-benchmarks HDF5 file, or a folder of vector files')
  .option('--tenants <n>', 'Zipf-distributed tenants', positiveInt('--tenants'), 1000)
  .option('--seed <s>', 'seed of the tenant and attribute assignment', positiveInt('--seed'), 7)
  .option('--k <k>', 'neighbours per query', positiveInt('--k'), 10)
  .option('--queries <n>', 'measure the first n queries', positiveInt('--queries'), 1000)
  .option('--max-lists <list>', 'comma-separated Strata maxLists settings', '8,16')
  .option('--ef <list>', 'comma-separated hnswlib ef settings', '64,256')
  .option('--engines <list>', `comma-separated engines (${FILTER_ENGINES.join(', ')})`, FILTER_ENGINES.join(','))
  .option('--threads <n>', 'worker threads for builds and ground truth (default: all cores)', positiveInt('--threads'), 0)
  .option('--rebuild', 'rebuild indexes even if a previous run left them')
  .option('--json <file>', 'write the rows as JSON')
  .addHelpText('after', `
Cases: unfiltered; filter keeping 99% and 1% of vectors (a range on a uniform 'bucket' attribute);
queries scoped to tenants holding about 1% of the vectors; queries scoped to tenants drawn in
proportion to their size. Engines: strata (one shared index with tenants and attributes),
strata-plain (the same index without them: memory and latency baseline), hnswlib (hnswlib-node over
all vectors with a filter callback), per-tenant (one Strata index per queried tenant: the upper bound).
Example: strata bench filter --dataset fashion-mnist --json filter.json`)
  .action(async (opts) => {
    const list = (v: string, name: string) => String(v).split(',').map((x) => positiveInt(name)(x.trim()));
    const engines = String(opts.engines).split(',').map((e) => e.trim());
    for (const e of engines) if (!(FILTER_ENGINES as string[]).includes(e)) throw new InvalidArgumentError(`unknown engine ${e} (use ${FILTER_ENGINES.join(', ')})`);
    await runFilterBench({
      dataset: opts.dataset,
      tenants: opts.tenants,
      seed: opts.seed,
      k: opts.k,
      queries: opts.queries,
      maxLists: list(opts.maxLists, '--max-lists'),
      ef: list(opts.ef, '--ef'),
      engines: engines as FilterEngineName[],
      rebuild: Boolean(opts.rebuild),
      threads: opts.threads,
      json: opts.json,
    });
  });

bench
  .command('updates')
  .description('Live updates: delete a share of the vectors and re-insert them while a reader thread searches; recall, inserts/s, search latency, disk.')
  .requiredOption('--dataset <name|path>', 'a dataset name, an ann-benchmarks HDF5 file, or a folder of vector files')
  .option('--churn <fraction>', 'share of the vectors deleted and re-inserted', parseFloat, 0.3)
  .option('--batch <n>', 'vectors per insert call (one writer, calls awaited in turn)', positiveInt('--batch'), 1000)
  .option('--max-lists <n>', 'maxLists of every search', positiveInt('--max-lists'), 16)
  .option('--k <k>', 'neighbours per query', positiveInt('--k'), 10)
  .option('--queries <n>', 'queries for recall and for the reader thread', positiveInt('--queries'), 1000)
  .option('--seed <s>', 'seed of the deleted sample', positiveInt('--seed'), 7)
  .option('--rebuild', 'rebuild the fresh index even if a previous run left it')
  .option('--parallel-gc', "keep V8's default GC helper threads (by default the bench relaunches Node with --single-threaded-gc, see src/util/gc.ts)")
  .option('--json <file>', 'write the result as JSON (insertsPerSec, recallFresh, recallAfterChurn, diskBytesFresh, diskBytesAfterCompaction, p99IdleMs, p99IngestMs, ...)')
  .addHelpText('after', `
Phases: a fresh build (cached under datasets/<name>/indexes, copied to a work folder); the reader
thread's idle latency; deletes of --churn of the ids; re-inserts of the same vectors in --batch calls
while the reader searches (inserts/s, latency while ingesting); compaction. The live set ends equal
to the fresh one, so the dataset's ground truth scores every phase. The writer and the reader share
one process; it runs with --single-threaded-gc (a writer's parallel GC steals the reader's core on
small machines) unless --parallel-gc is given.
Example: strata bench updates --dataset fashion-mnist --json updates.json`)
  .action(async (opts) => {
    if (!(opts.churn > 0 && opts.churn < 1)) throw new InvalidArgumentError('--churn must be in (0, 1)');
    if (!opts.parallelGc && (await relaunchWithSingleThreadedGc())) return;
    await runUpdateBench({ dataset: opts.dataset, churn: opts.churn, batch: opts.batch, k: opts.k, queries: opts.queries, maxLists: opts.maxLists, seed: opts.seed, rebuild: Boolean(opts.rebuild), json: opts.json });
  });

bench
  .command('http')
  .description('The HTTP service under autocannon load on loopback vs the embedded batch search on the same index: QPS, p50/p99 per concurrency, shedding.')
  .option('--dataset <name|path>', 'a dataset name, an ann-benchmarks HDF5 file, or a folder of vector files', 'synthetic-100k-96')
  .option('--concurrency <list>', 'connections per load level, comma-separated', '1,8,32,64')
  .option('--seconds <s>', 'seconds per load level (and for the embedded run)', positiveInt('--seconds'), 10)
  .option('--max-lists <n>', 'maxLists of every search', positiveInt('--max-lists'), 16)
  .option('--k <k>', 'neighbours per query', positiveInt('--k'), 10)
  .option('--queries <n>', 'distinct queries cycled through', positiveInt('--queries'), 1000)
  .option('--reload', "drop the service's data folder and load the collection again")
  .option('--json <file>', 'write rows (concurrency, qps, p50Ms, p99Ms, errors, shed, embeddedQps) as JSON')
  .addHelpText('after', `
The service runs as a child process (\`strata serve\`, data in datasets/<name>/indexes/http-service,
kept between runs). The collection is loaded through the API (1,000 points per upsert; the first one
builds the index, and the service rebuilds it as the collection grows), then searched: recall through the API, the embedded library's searchBatch on the
same index for --seconds (the baseline), and one autocannon run per concurrency level, each request
one single-query search.
Example: strata bench http --dataset synthetic-100k-96 --json http.json`)
  .action(async (opts) => {
    const concurrency = String(opts.concurrency).split(',').map((x) => positiveInt('--concurrency')(x.trim()));
    const { runHttpBench } = await import('../../bench/http.js');
    await runHttpBench({ dataset: opts.dataset, concurrency, seconds: opts.seconds, k: opts.k, maxLists: opts.maxLists, queries: opts.queries, reload: Boolean(opts.reload), json: opts.json });
  });

bench
  .command('kernels')
  .description('Scan kernels in isolation: ns per vector for float32 and each codec, as a ratio to float32.')
  .option('--dims <list>', 'comma-separated dimensions', '96,784')
  .option('--mib <n>', 'MiB of float32 data scanned per dimension (larger than the caches)', positiveInt('--mib'), 64)
  .option('--rows <n>', 'rows per kernel call, like one posting list', positiveInt('--rows'), 128)
  .option('--json <file>', 'write the rows as JSON')
  .action((opts) => {
    const dims = String(opts.dims).split(',').map((x) => positiveInt('--dims')(x.trim()));
    runKernelBench({ dims, bytes: opts.mib * 2 ** 20, rowsPerCall: opts.rows, json: opts.json });
  });

program
  .command('serve')
  .description('Run the HTTP service (fastify) on the embedded default: LMDB indexes under --data-dir, no other server. `npm start` runs this.')
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
  .option('--parallel-gc', "keep V8's default GC helper threads (default: relaunch with --single-threaded-gc, see src/util/gc.ts)")
  .addHelpText('after', () => `
Every setting, its environment variable and default (flags win over the environment):
${describeSettings()}
  STRATA_ADMIN_KEY (environment only): the admin key. Unset, the first start generates one, prints it
  once and stores its hash in <data-dir>/service.

API: /docs (OpenAPI UI), /openapi.json via /docs/json, /healthz, /readyz, /metrics; /v1/... (README).
Example: STRATA_ADMIN_KEY=change-me-please-0123 strata serve --port 8700 --data-dir ./data`)
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
addKvCommands(program, bench);
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
