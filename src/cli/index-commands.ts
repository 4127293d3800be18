/**
 * `strata index …`: build and use an index from vector files without writing code.
 *   build <vectors> --out DIR     fvecs / bvecs / fbin / NumPy .npy / ann-benchmarks HDF5 / JSON
 *   search DIR --query <file|json> --k …
 *   stats DIR, health DIR, compact DIR
 *   publish DIR --store s3://bucket/prefix   the index as immutable objects on S3-compatible storage
 *   search s3://bucket/prefix --cache-dir …  a stateless query node's search of a published index
 *   apply DIR --store s3://bucket/prefix     the indexer: the log's writes into DIR, published as a new manifest
 *   gc --store s3://bucket/prefix            delete what only older manifests name, and the applied log
 * and `strata tune DIR`: the index's recall curve (targetRecall -> maxLists), measured again on demand.
 */
import { existsSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { createError } from '../errors.js';
import type { Metric } from '../index/distance.js';
import type { Filter } from '../index/filter.js';
import { collectGarbage } from '../index/object-gc.js';
import { applyLog, ObjectIndex, publishIndex } from '../index/object-index.js';
import { createIndex, openIndex, type SearchOptions, type SearchResult, type SpannIndex } from '../index/spann.js';
import { parseVectorsJson, readIdInput, readLines, readVectorInput, VECTOR_EXTENSIONS } from '../storage/vector-input.js';
import { createProgress } from '../util/progress.js';
import { nonNegativeNumber, positiveInt } from '../util/cli-args.js';
import { isStoreUrl, openS3Url } from '../storage/object-store.js';
import { STORE_HELP } from './store-args.js';

const json = (v: unknown) => console.log(JSON.stringify(v, null, 2));

/** Open the index at `dir`, run `fn` on it, close it whatever happens. */
async function withIndex<T>(dir: string, readOnly: boolean, fn: (index: SpannIndex) => T | Promise<T>): Promise<T> {
  const index = await openIndex(dir, { readOnly });
  try {
    return await fn(index);
  } finally {
    await index.close();
  }
}

export function addIndexCommands(program: Command): void {
  const index = program.command('index').description('Build, search and maintain an index folder from vector files (no code needed).');

  index
    .command('build')
    .description('Build an index from a vector file, with a progress bar.')
    .argument('<vectors>', `vector file: ${VECTOR_EXTENSIONS.join(', ')} (HDF5: its train set)`)
    .requiredOption('--out <dir>', 'index folder to create (must not exist)')
    .option('--spec <spec>', 'index spec, e.g. SPANN, SPANN,INT8,Refine, PCA50%,SPANN,F8E4M3', 'SPANN')
    .addOption(new Option('--metric <m>', 'distance (default: the file\'s own for HDF5, else l2)').choices(['l2', 'ip', 'cosine']))
    .option('--ids <file>', 'ids, one per vector: .npy, .ibin/.ivecs or text (one per line); default 0..n-1')
    .option('--tenants <file>', 'tenant of each vector, one name per line')
    .option('--head-ratio <r>', 'share of vectors that become in-memory heads (default 0.03)', nonNegativeNumber('--head-ratio'))
    .option('--threads <n>', 'build threads (default: all cores)', positiveInt('--threads'))
    .addHelpText('after', `
Examples:
  strata index build base.fvecs --out ./idx
  strata index build embeddings.npy --out ./idx --metric cosine --ids ids.npy --tenants tenants.txt
  strata index build glove-25-angular.hdf5 --out ./idx --spec SPANN,INT8,Refine`)
    .action(async (file: string, opts) => {
      if (existsSync(opts.out)) throw createError('STRATA_INDEX_EXISTS', `--out ${opts.out} exists: choose a new folder`, 'out');
      const v = await readVectorInput(file, 'train');
      const ids = opts.ids ? readIdInput(opts.ids) : undefined;
      if (ids && ids.length !== v.count) throw createError('STRATA_INVALID_ID', `--ids ${opts.ids} holds ${ids.length} ids for ${v.count} vectors`, 'ids');
      const tenants = opts.tenants ? readLines(opts.tenants) : undefined;
      if (tenants && tenants.length !== v.count) throw createError('STRATA_INVALID_TENANT', `--tenants ${opts.tenants} holds ${tenants.length} lines for ${v.count} vectors`, 'tenants');
      const metric: Metric = opts.metric ?? v.metric ?? 'l2';
      console.error(`${file}: ${v.count} vectors x ${v.dim}, ${metric}, spec ${opts.spec}`);
      const ui = createProgress();
      const t0 = performance.now();
      const idx = await createIndex(opts.out, { dimension: v.dim, metric, spec: opts.spec, ...(opts.headRatio !== undefined ? { headRatio: opts.headRatio } : {}), ...(opts.threads ? { threads: opts.threads } : {}) });
      try {
        await idx.build(v.data, ids, { ...(tenants ? { tenants } : {}), onProgress: (p) => ui.update(p.stage, p.done, p.total) });
      } finally {
        ui.stop();
      }
      const s = idx.stats();
      await idx.close();
      console.log(`built ${opts.out}: ${s.count} vectors, ${s.heads} heads, ${s.tenants} tenants, ${(s.diskBytes / 2 ** 20).toFixed(1)} MiB on disk, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    });

  index
    .command('search')
    .description('k nearest neighbours of one or more query vectors.')
    .argument('<dir>', `index folder, or a published index: ${STORE_HELP}`)
    .option('--cache-dir <dir>', 'a published index: the query node\'s cache folder', '.strata-cache')
    .option('--cache-size <mib>', 'a published index: MiB of posting lists the cache keeps', positiveInt('--cache-size'), 1024)
    .requiredOption('--query <file|json>', `query vectors: a file (${VECTOR_EXTENSIONS.join(', ')}; HDF5: its test set) or inline JSON, e.g. '[0.1,0.2,0.3]'`)
    .option('--k <n>', 'neighbours per query', positiveInt('--k'), 10)
    .option('--max-lists <n>', 'posting lists read per query (default: what the index measured for --target-recall)', positiveInt('--max-lists'))
    .option('--target-recall <r>', 'recall@10 to aim for, in (0, 1] (default 0.95; strata tune shows the curve)', parseFloat)
    .option('--tenant <name>', 'search this tenant only')
    .option('--filter <json>', 'metadata filter, e.g. \'{"lang":"en"}\'')
    .option('--limit <n>', 'only the first n queries of a file', positiveInt('--limit'))
    .option('--json', 'print JSON: [{ids, distances, stats}] per query')
    .action(async (dir: string, opts) => {
      const q = existsSync(opts.query) ? await readVectorInput(opts.query, 'test') : parseVectorsJson(opts.query, '--query');
      const searchAll = async (idx: { dimension: number; search(q: Float32Array, k: number, o: SearchOptions): SearchResult | Promise<SearchResult> }) => {
        if (q.dim !== idx.dimension) throw createError('STRATA_DIMENSION_MISMATCH', `--query vectors have ${q.dim} components, the index ${idx.dimension}`, 'query');
        let filter: Filter | undefined;
        if (opts.filter) {
          try {
            filter = JSON.parse(opts.filter) as Filter;
          } catch (err) {
            throw new InvalidArgumentError(`--filter is not JSON (${(err as Error).message})`);
          }
        }
        const n = Math.min(q.count, opts.limit ?? q.count);
        const out: Array<{ ids: number[]; distances: number[]; stats: { listsProbed: number; vectorsScanned: number } }> = [];
        for (let i = 0; i < n; i++) {
          const r = await idx.search(q.data.subarray(i * q.dim, (i + 1) * q.dim), opts.k, { ...(opts.maxLists ? { maxLists: opts.maxLists } : {}), ...(opts.targetRecall !== undefined ? { targetRecall: opts.targetRecall } : {}), ...(opts.tenant ? { tenant: opts.tenant } : {}), ...(filter ? { filter } : {}) });
          const ids: number[] = [];
          const distances: number[] = [];
          r.ids.forEach((id, j) => {
            if (id !== 0xffffffff) (ids.push(id), distances.push(r.distances[j]));
          });
          out.push({ ids, distances, stats: r.stats });
        }
        if (opts.json) return json(out);
        for (let i = 0; i < out.length; i++) {
          console.log(`query ${i}: ${out[i].stats.listsProbed} lists, ${out[i].stats.vectorsScanned} vectors scanned`);
          out[i].ids.forEach((id, j) => console.log(`  ${String(j + 1).padStart(3)}  id ${String(id).padEnd(10)} distance ${out[i].distances[j].toPrecision(6)}`));
        }
      };
      if (!isStoreUrl(dir)) return withIndex(dir, true, searchAll);
      const store = await openS3Url(dir);
      try {
        const node = await ObjectIndex.open({ store, cacheDir: opts.cacheDir, cacheBytes: opts.cacheSize * 2 ** 20 });
        try {
          await searchAll(node);
          const c = node.cacheStats;
          if (!opts.json) console.error(`cache: ${c.hits} hits, ${c.misses} misses, ${c.fetchRounds} fetch rounds, ${c.fetchedObjects} objects (${c.fetchedBytes} bytes) fetched; store: ${store.stats.gets} GETs`);
        } finally {
          await node.close();
        }
      } finally {
        store.close();
      }
    });

  index
    .command('publish')
    .description('Upload a built index to S3-compatible object storage (AWS S3, Ceph RGW, MinIO, R2) as immutable objects under a new manifest.')
    .argument('<dir>', 'index folder')
    .requiredOption('--store <url>', STORE_HELP)
    .addHelpText('after', `
Examples:
  eval "$(scripts/ceph-cluster.sh env)"     # the loopback Ceph cluster's settings
  strata index publish ./idx --store s3://strata/products
  strata index search s3://strata/products --query '[0.1, …]' --cache-dir ./node-cache`)
    .action(async (dir: string, opts) => {
      const store = await openS3Url(opts.store, { createBucket: true });
      try {
        const ui = createProgress();
        const t0 = performance.now();
        const m = await publishIndex(dir, store, (stage, done, total) => ui.update(stage, done, total));
        ui.stop();
        console.log(`published ${dir} to ${opts.store} as manifest ${m.version}: ${m.objects} objects uploaded (${(m.bytes / 2 ** 20).toFixed(1)} MiB), ${m.reused} unchanged ones named again, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } finally {
        store.close();
      }
    });

  index
    .command('apply')
    .description("The indexer: apply the writes in an index's log on the store (upserts and deletes acknowledged by query nodes) to the folder it was published from, and publish the result as the next manifest (only changed lists are uploaded). Query nodes follow it.")
    .argument('<dir>', 'the index folder the store\'s manifests were published from')
    .requiredOption('--store <url>', STORE_HELP)
    .option('--every <seconds>', 'keep applying, every this many seconds, until SIGINT/SIGTERM', nonNegativeNumber('--every'))
    .addHelpText('after', `
Example (next to query nodes started with strata serve --store s3://strata/prod):
  strata index apply ./products --store s3://strata/prod/products --every 10`)
    .action(async (dir: string, opts: { store: string; every?: number }) => {
      const store = await openS3Url(opts.store);
      let stop = false;
      let wake: (() => void) | null = null;
      const onSignal = () => {
        stop = true;
        wake?.();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        do {
          const t0 = performance.now();
          const ui = createProgress();
          const m = await applyLog(dir, store, (stage, done, total) => ui.update(stage, done, total));
          ui.stop();
          if (m) console.log(`applied the log to sequence ${m.appliedLog} and published manifest ${m.version}: ${m.objects} objects uploaded (${(m.bytes / 2 ** 20).toFixed(1)} MiB), ${m.reused} unchanged, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
          else if (opts.every === undefined) console.log('the log holds nothing the newest manifest lacks');
          if (opts.every === undefined || stop) break;
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, opts.every! * 1000).unref();
          });
        } while (!stop);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        store.close();
      }
    });

  index
    .command('gc')
    .description('Delete what an index on object storage no longer needs: the objects only manifests older than the newest --keep name, those manifests, and the log batches every kept manifest holds. Objects of a publish in flight are never touched.')
    .requiredOption('--store <url>', STORE_HELP)
    .option('--keep <n>', 'manifests to keep (query nodes on an older one than these would miss objects: keep at least 2)', positiveInt('--keep'), 2)
    .action(async (opts: { store: string; keep: number }) => {
      const store = await openS3Url(opts.store);
      try {
        const r = await collectGarbage(store, { keep: opts.keep });
        console.log(`kept manifests ${r.kept.join(', ') || '(none)'}; deleted ${r.manifestsDeleted} older manifests, ${r.objectsDeleted} objects only they named, ${r.logBatchesDeleted} applied log batches`);
      } finally {
        store.close();
      }
    });

  index
    .command('stats')
    .description('Size and shape of an index: vectors, heads, lists, bytes, tenants, attributes.')
    .argument('<dir>', 'index folder')
    .action((dir: string) => withIndex(dir, true, (idx) => json(idx.stats())));

  index
    .command('health')
    .description('Check every invariant (reads every list): list lengths, replicas, tombstones, orphans, problems. Exit code 1 when a problem is found.')
    .argument('<dir>', 'index folder')
    .action((dir: string) =>
      withIndex(dir, true, (idx) => {
        const h = idx.health();
        json(h);
        if (h.problems.length > 0) process.exitCode = 1;
      }),
    );

  index
    .command('compact')
    .description('Apply tombstones and merge small lists; --reclaim-disk also rewrites the file to its live size (needs exclusive access).')
    .argument('<dir>', 'index folder')
    .option('--reclaim-disk', 'rewrite the LMDB file so disk use drops to the live data')
    .action((dir: string, opts) => withIndex(dir, false, async (idx) => json(await idx.compact({ reclaimDisk: Boolean(opts.reclaimDisk) }))));

  program
    .command('tune')
    .description("An index's recall curve: recall@10 measured at each search budget (maxLists) on a sample of its own vectors, and the budget each targetRecall gets.")
    .argument('<dir>', 'index folder')
    .option('--measure', 'measure the curve again now (on the stored sample; the index must not be open for writing elsewhere)')
    .option('--exact-truth', 'with --measure: recompute the sample\'s ground truth by exact search over the stored vectors first (after many inserts; reads every list per sample query)')
    .option('--json', 'print the curve as JSON')
    .addHelpText('after', `
Builds measure the curve (index option calibrationQueries, default 300 sample vectors); compaction
measures it again. Searches without maxLists read the budget of their targetRecall (default 0.95).
Examples:
  strata tune ./idx
  strata tune ./idx --measure --exact-truth`)
    .action((dir: string, opts) =>
      withIndex(dir, !opts.measure, async (idx) => {
        const curve = opts.measure ? await idx.calibrate({ exactTruth: Boolean(opts.exactTruth) }) : idx.recallCurve();
        if (!curve) throw createError('STRATA_NOT_CALIBRATED', `${dir} has no recall curve (built before format 8, with calibrationQueries 0, or too small): rebuild it to calibrate`, 'calibration');
        const targets = [0.8, 0.9, 0.95, 0.97, 0.99].map((t) => ({ targetRecall: t, maxLists: idx.budgetFor(t) }));
        if (opts.json) return json({ ...curve, targets });
        console.log(`recall@${curve.k} of ${curve.queries} sample queries (index version ${curve.version}, ${curve.count} vectors, measured in ${curve.seconds.toFixed(2)} s)`);
        console.log('maxLists  recall');
        for (const p of curve.points) console.log(`${String(p.maxLists).padStart(8)}  ${p.recall.toFixed(4)}  ${'#'.repeat(Math.round(p.recall * 40))}`);
        console.log(`targetRecall -> maxLists: ${targets.map((t) => `${t.targetRecall} -> ${t.maxLists}`).join(', ')}`);
        const top = curve.points[curve.points.length - 1];
        if (top.recall < 0.99) console.log(`highest recall measured: ${top.recall.toFixed(4)} (at ${top.maxLists} lists) — a higher target gets the budget that reaches it and falls short (a lossy codec without Refine, or a small index)`);
      }),
    );
}
