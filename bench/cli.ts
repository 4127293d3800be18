/**
 * `strata bench …`: the benchmarks' own command line. The shipped CLI loads this module only when a
 * benchmark runs (src/cli/strata.ts), so nothing here, undici included, is a dependency of the
 * library, the service or the other commands.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { fractionArg, nonNegativeInt, positiveInt } from '../src/util/cli-args.js';
import { isStrataError } from '../src/errors.js';
import { relaunchWithSingleThreadedGc } from '../src/util/gc.js';
import { runAnnBench, ENGINES } from './ann.js';
import { runCodecBench, DEFAULT_CODEC_SPECS } from './codecs.js';
import type { EngineName } from './engines.js';
import { runFilterBench } from './filter.js';
import { FILTER_ENGINES, type FilterEngineName } from './filter-workload.js';
import { runClusterBench } from './cluster.js';
import { runKernelBench } from './kernels.js';
import { runKvBench } from './kv.js';
import { runUpdateBench } from './updates.js';

/** The --memory-cap help shared by the benchmarks that take it (memory-cap.ts). */
const MEMORY_CAP_HELP =
  'in a memory cgroup of this size, page cache counted: MiB (256), a size (1GiB) or a share of the raw vectors (15%raw), its files evicted from the page cache first; needs root or a delegated cgroup';

function benchProgram(): Command {
  const bench = new Command('strata bench').description('Benchmarks that compare Strata with its peers in one run.').showHelpAfterError();
  bench
    .command('ann')
    .description('Recall/QPS/latency/memory/disk of strata vs hnswlib-node (all vectors in memory) vs exact search.')
    .requiredOption('--dataset <name|path>', 'a dataset name (see `strata datasets`), an ann-benchmarks HDF5 file, or a folder with base/query[/groundtruth] vector files')
    .option('--k <k>', 'neighbours per query', positiveInt('--k'), 10)
    .option('--sweep', 'sweep many search settings per engine (default: three). strata is swept by target recall (0.5 … 0.995: each row shows the lists its recall curve gives that target), hnswlib by ef')
    .addOption(new Option('--engines <list>', 'comma-separated engines').default(ENGINES.join(',')))
    .option('--queries <n>', 'measure the first n queries', positiveInt('--queries'), 2000)
    .option('--threads <n>', 'worker threads for builds and all-core QPS (default: all cores)', positiveInt('--threads'))
    .option('--rebuild', 'rebuild indexes even if a previous run left them')
    .option('--json <file>', 'write the rows as JSON')
    .option('--svg <file>', 'write a recall-vs-QPS plot')
    .option('--memory-cap <size>', `also measure each engine ${MEMORY_CAP_HELP}`)
    .option('--cold', 'also time the first pass after evicting the engine\'s files from the page cache, per setting')
    .option('--read-ahead', 'let the kernel read ahead on strata\'s index file (strata\'s default is off)')
    .option('--spec <spec>', 'strata\'s index spec, e.g. "SPANN,INT8,Refine" (default: float32 lists)')
    .option('--head-ratio <r>', 'strata\'s head ratio: the share of vectors kept in memory as heads (default 0.08; its index gets a folder of its own)', fractionArg('--head-ratio'))
    .option('--max-lists <list>', 'comma-separated maxLists settings for strata, replacing its target-recall ones (targetRecall 0.9, 0.95, 0.99, or the sweep\'s)')
    .addHelpText('after', `
  Each engine is built and then measured in a process of its own. Columns:
    QPS 1T     queries/s, one query at a time in one thread      QPS all   batch search on all cores
    RssAnon    anonymous resident memory added by opening the index and running its queries
               (LMDB's mapped file pages are not anonymous and not counted)
    disk       index bytes on disk                                read/query  posting bytes read per query
  Indexes are cached under datasets/<name>/indexes and reused unless --rebuild.
  The SSD regime (--memory-cap, --cold): rows gain the cap, the pass (warm: after one untimed pass;
  cold: the first pass on an evicted page cache, with the time from open to the first answer),
  posting bytes each query needed, bytes it read from the device, their ratio (read amplification)
  and major page faults, and for strata the share of the device's random-read bandwidth it uses
  ("of device": an O_DIRECT probe of the index file at the mean list size, 32 reads in flight);
  strata's settings run with and without prefetch (lists read concurrently).
  An engine the cap's OOM killer ends is a row "does not fit"; "QPS all: OOM" means it was ended in the
  all-cores phase (e.g. when each batch worker loads its own copy of a large head graph).
  Example: strata bench ann --dataset synthetic-1m-96 --engines strata,hnswlib --memory-cap 256 --cold`)
    .action(async (opts) => {
      const engines = String(opts.engines).split(',').map((s) => s.trim()) as EngineName[];
      for (const e of engines) if (!ENGINES.includes(e)) throw new InvalidArgumentError(`unknown engine ${e}; choose from ${ENGINES.join(', ')}`);
      await runAnnBench({
        dataset: opts.dataset,
        k: opts.k,
        sweep: Boolean(opts.sweep),
        engines,
        queries: opts.queries,
        rebuild: Boolean(opts.rebuild),
        threads: opts.threads ?? 0,
        json: opts.json,
        svg: opts.svg,
        memoryCap: opts.memoryCap,
        cold: Boolean(opts.cold),
        ...(opts.readAhead ? { readAhead: true } : {}),
        ...(opts.spec ? { spec: String(opts.spec) } : {}),
        ...(opts.headRatio !== undefined ? { headRatio: Number(opts.headRatio) } : {}),
        ...(opts.maxLists ? { maxLists: String(opts.maxLists).split(',').map((x) => positiveInt('--max-lists')(x.trim())) } : {}),
      });
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
    .option('--memory-cap <size>', `also measure each spec ${MEMORY_CAP_HELP}`)
    .addHelpText('after', `
  Specs: SPANN (float32 lists), SPANN,F8E4M3 / SPANN,F8E5M2 (OCP float8 casts), SPANN,INT8 (per-dimension
  min/max), ,Residual after a codec to encode each list entry relative to its head (x - head), PCA<n>
  or PCA<p>% before SPANN to project what lists store, and ,Refine to re-rank refineFactor × k
  candidates from full-precision vectors.
  Example: strata bench codecs --dataset fashion-mnist --specs "SPANN;SPANN,F8E4M3;SPANN,INT8" --json codecs.json`)
    .action(async (opts) => {
      const maxLists = String(opts.maxLists).split(',').map((x) => positiveInt('--max-lists')(x.trim()));
      await runCodecBench({
        dataset: opts.dataset,
        specs: String(opts.specs).split(';').map((s) => s.trim()).filter(Boolean),
        k: opts.k,
        maxLists,
        queries: opts.queries,
        rebuild: Boolean(opts.rebuild),
        json: opts.json,
        ...(opts.memoryCap ? { memoryCap: String(opts.memoryCap) } : {}),
      });
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
    .option('--memory-cap <size>', `run each engine's searches ${MEMORY_CAP_HELP}`)
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
        ...(opts.memoryCap ? { memoryCap: String(opts.memoryCap) } : {}),
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
    .description('The HTTP service under load on loopback beside its two bounds measured in the same run — the embedded batch search and the bare route (fastify, auth, schemas, no search): QPS as a share of the harmonic ceiling, p50/p99 in µs, server CPU per request, reads during writes and during a rebuild.')
    .option('--dataset <name|path>', 'a dataset name, an ann-benchmarks HDF5 file, or a folder of vector files', 'synthetic-100k-96')
    .option('--concurrency <list>', 'connections per load level, comma-separated', '1,8,32,64')
    .option('--seconds <s>', 'seconds per load level (and for the embedded run)', positiveInt('--seconds'), 10)
    .option('--max-lists <n>', 'maxLists of every search', positiveInt('--max-lists'), 16)
    .option('--k <k>', 'neighbours per query', positiveInt('--k'), 10)
    .option('--queries <n>', 'distinct queries cycled through', positiveInt('--queries'), 1000)
    .option('--rounds <n>', 'times the bare route and the service alternate per concurrency, best of each (also the embedded runs)', positiveInt('--rounds'), 3)
    .option('--upsert-rate <n>', 'points per second the writer upserts (10 per request) beside the c=8 readers', positiveInt('--upsert-rate'), 200)
    .option('--no-rebuild', 'skip the row measured during a generation rebuild')
    .option('--reload', "drop the service's data folder and load the collection again")
    .option('--json <file>', 'write the rows as JSON')
    .addHelpText('after', `
  The service runs as a child process (\`strata serve\`, data in datasets/<name>/indexes/http-service,
  kept between runs), and so does the bare route (bench/bare-server.ts). The collection is loaded
  through the API (1,000 points per upsert), then searched: recall through the API, the embedded
  library's searchBatch on the same index for --seconds, then per concurrency the bare route and the
  service, each request one single-query search, from a keep-alive undici client in this process.
  Rows: QPS, share of the ceiling 1/(1/bare + 1/embedded), p50/p99 µs, server CPU per request (its
  /proc/<pid>/stat) against 1.5 × (embedded CPU per query + bare CPU per request), errors, 503s;
  then c=8 idle, while upserting, and during a rebuild.
  Example: strata bench http --dataset synthetic-100k-96 --json http.json`)
    .action(async (opts) => {
      const concurrency = String(opts.concurrency).split(',').map((x) => positiveInt('--concurrency')(x.trim()));
      const { runHttpBench } = await import('./http.js').catch((err: { code?: string; message?: string }) => {
        if (err.code === 'ERR_MODULE_NOT_FOUND' && /undici/.test(err.message ?? '')) {
          throw new InvalidArgumentError('strata bench http drives the service with undici, a development dependency: run it from a checkout (npm ci), or npm install undici');
        }
        throw err;
      });
      await runHttpBench({ dataset: opts.dataset, concurrency, seconds: opts.seconds, k: opts.k, maxLists: opts.maxLists, queries: opts.queries, rounds: opts.rounds, upsertRate: opts.upsertRate, noRebuild: opts.rebuild === false, reload: Boolean(opts.reload), json: opts.json });
    });

  bench
    .command('cluster')
    .description('The embedded index against the same build on object storage (S3, Ceph RGW, MinIO …) served by a stateless query node, cold and warm cache: recall, QPS, p50/p99, fetch rounds, GETs and bytes per query, publish throughput; with --nodes, over HTTP from several query nodes.')
    .requiredOption('--dataset <name|path>', 'a dataset name (see `strata datasets`) or a folder with base/query[/groundtruth] vector files')
    .requiredOption('--store <url>', 's3://bucket/prefix (the run publishes under <prefix>/bench-<dataset>-<time>); endpoints and keys from STRATA_S3_ENDPOINTS, STRATA_S3_ACCESS_KEY, STRATA_S3_SECRET_KEY')
    .option('--k <k>', 'neighbours per query', positiveInt('--k'), 10)
    .option('--queries <n>', 'queries measured', positiveInt('--queries'), 1000)
    .option('--targets <list>', 'comma-separated target recalls', '0.95')
    .option('--cache-dir <dir>', "the query node's cache folder (emptied before each cold pass)", '.strata-bench-cache')
    .option('--ingest <n>', 'vectors written through the log for the ingest row (0: none)', nonNegativeInt('--ingest'), 10_000)
    .option('--ingest-in-flight <n>', 'writes outstanding at once while ingesting', positiveInt('--ingest-in-flight'), 64)
    .option('--nodes <n>', 'also serve the index over HTTP from this many `strata serve --store` processes: owner, forwarded, spread, owner killed (0: skip)', nonNegativeInt('--nodes'), 0)
    .option('--nodes-concurrency <n>', 'queries in flight for the row spread over every node', positiveInt('--nodes-concurrency'), 8)
    .option('--json <file>', 'write the rows as JSON')
    .addHelpText('after', `
Against the loopback Ceph cluster (1 monitor, 1 manager, 3 OSDs, 2 gateways):
  eval "$(scripts/ceph-cluster.sh start)"
  strata bench cluster --dataset fashion-mnist --store s3://strata/bench --nodes 2 --json cluster.json`)
    .action(async (opts) => {
      const targets = String(opts.targets).split(',').map((t) => fractionArg('--targets')(t.trim()));
      await runClusterBench({ dataset: opts.dataset, store: opts.store, k: opts.k, queries: opts.queries, targets, cacheDir: opts.cacheDir, ingest: opts.ingest, ingestInFlight: opts.ingestInFlight, nodes: opts.nodes, nodesConcurrency: opts.nodesConcurrency, json: opts.json });
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

  bench
    .command('kv')
    .description('Chunk KV-cache reuse: quality vs recompute fraction per strategy, TTFT vs full prefill and prefix caching, tenant isolation timing, hit rates GDSF vs LRU and per tenant with fair share.')
    .option('--models <list>', 'comma-separated models (quality figures come from stories260K only)', 'stories260K,llama-random-6M')
    .option('--prompts <n>', 'prompts measured per model', positiveInt('--prompts'), 40)
    .option('--passages <n>', 'passages in the pool', positiveInt('--passages'), 60)
    .option('--hit-prompts <n>', 'prompts replayed for the hit-rate comparison (0: skip it)', nonNegativeInt('--hit-prompts'), 1000)
    .option('--fractions <list>', 'recompute fractions', '0,0.05,0.15,0.3,1')
    .option('--zipf <s>', 'Zipf exponent of passage popularity', parseFloat, 1.0)
    .option('--seed <n>', 'seed', nonNegativeInt('--seed'), 7)
    .option('--selection-block <n>', 'kv-deviation and cache-craft choose blocks of this many tokens', positiveInt('--selection-block'), 1)
    .option('--passage-tokens <min-max>', 'passage lengths in tokens', '64-128')
    .option('--chunks <min-max>', 'passages per prompt', '3-5')
    .option('--no-batched', 'skip the batched-recompute rows')
    .option('--name-questions', "questions naming a character of an earlier passage ('Then Lily said,'): quality that depends on attention across chunks")
    .option('--ort-threads <n>', "onnxruntime intra-op threads of the models (1 suits the small ones; use the cores for llama-random-25M/86M)", positiveInt('--ort-threads'), 1)
    .option('--json <file>', 'write {rows, hitRates, isolation, tenantHitRates}')
    .option('--svg <file>', 'plot top-1 agreement vs recompute fraction')
    .addHelpText('after', `
Passages are stories stories260K writes itself (64-128 tokens of tok512); prompts are a system line,
3-5 Zipf-drawn passages in random order and a short question, within 512 tokens. Each passage is
cached in another prompt first. Per prompt, in the same loop: full prefill, prefix caching alone,
and every strategy x fraction, sequential and in one call (single pass). Example: strata bench kv --json kv.json --svg kv.svg
Long prompts on larger models (model compute dominates):
  strata bench kv --models llama-random-25M,llama-random-86M --passage-tokens 160-256 --chunks 5-8 \
    --prompts 6 --fractions 0,0.15,1 --no-batched --ort-threads 2 --hit-prompts 0`)
    .action(async (opts) => {
      await runKvBench({
        models: String(opts.models).split(',').map((s) => s.trim()),
        prompts: opts.prompts,
        passages: opts.passages,
        hitPrompts: opts.hitPrompts,
        fractions: String(opts.fractions).split(',').map((s) => fractionArg('--fractions')(s.trim())),
        zipf: opts.zipf,
        seed: opts.seed,
        selectionBlock: opts.selectionBlock,
        passageTokens: range('--passage-tokens', opts.passageTokens),
        chunksPerPrompt: range('--chunks', opts.chunks),
        batched: opts.batched !== false,
        nameQuestions: Boolean(opts.nameQuestions),
        ortThreads: opts.ortThreads,
        json: opts.json,
        svg: opts.svg,
      });
    });
  return bench;
}

/** "a-b" as [a, b] (positive integers, a <= b). */
function range(flag: string, text: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(String(text).trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new InvalidArgumentError(`${flag} must be min-max (positive integers, min <= max), got ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

/** Run `strata bench <args>` (args after "bench"). */
export async function runBenchCli(args: string[]): Promise<void> {
  try {
    await benchProgram().parseAsync(args, { from: 'user' });
  } catch (err) {
    if (isStrataError(err)) {
      console.error(`error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}
