/**
 * Named datasets and dataset paths. A prepared dataset is a folder
 *   datasets/<name>/base.fbin  query.fbin  groundtruth.ibin (top-100 ids)  info.json
 * made by `strata datasets`. A path may also be an ann-benchmarks HDF5 file, or a folder holding
 * base / query / groundtruth vector files in any supported format (.fvecs .bvecs .fbin / .ivecs .ibin).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { join, resolve, basename, extname } from 'node:path';
import { repoRoot } from '../util/paths.js';
import { createError } from '../errors.js';
import type { Metric } from '../index/distance.js';
import { exactSearch } from '../index/exact.js';
import { readAnnBenchmarksHdf5 } from '../storage/hdf5.js';
import { readFloatVectors, readIntVectors, vectorFileShape, writeVectors } from '../storage/vector-files.js';
import { DEFAULT_SYNTHETIC, type SyntheticOptions, writeMixtureFbin } from './synthetic.js';
import { type AnisoOptions, DEFAULT_ANISO, writeAnisoFbin } from './synthetic-aniso.js';
import { loadFashionMnist } from './fashion-mnist.js';

export const GROUND_TRUTH_K = 100;

export const DATASETS_DIR = process.env.STRATA_DATASETS_DIR ?? join(repoRoot(), 'datasets');

/** Where the benches keep the indexes they build from a dataset: <dataset folder>/indexes. */
export const INDEXES_DIR = 'indexes';

export interface Dataset {
  name: string;
  metric: Metric;
  dim: number;
  base: Float32Array;
  baseCount: number;
  queries: Float32Array;
  queryCount: number;
  /** Ground-truth neighbour ids, queryCount × gtK. */
  groundTruth: Int32Array;
  gtK: number;
}

export interface DatasetInfo {
  name: string;
  metric: Metric;
  dim: number;
  baseCount: number;
  queryCount: number;
  source: string;
  createdAt: string;
}

export type Reporter = (stage: string, done: number, total: number) => void;

/** Parse names like "synthetic-1m-96" / "synthetic-20k-64" into generator settings. */
export function parseSyntheticName(name: string): SyntheticOptions | undefined {
  const m = /^synthetic-(\d+)(k|m)?-(\d+)$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] === 'm' ? 1_000_000 : m[2] === 'k' ? 1000 : 1);
  return { n, dim: Number(m[3]), ...DEFAULT_SYNTHETIC };
}

/** Parse "synthetic-aniso" (200k × 96) and "synthetic-aniso-<n>[k|m]-<dim>" into generator settings. */
export function parseAnisoName(name: string): AnisoOptions | undefined {
  if (name === 'synthetic-aniso') return { n: 200_000, dim: 96, ...DEFAULT_ANISO };
  const m = /^synthetic-aniso-(\d+)(k|m)?-(\d+)$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] === 'm' ? 1_000_000 : m[2] === 'k' ? 1000 : 1);
  return { n, dim: Number(m[3]), ...DEFAULT_ANISO };
}

export function syntheticName(n: number, dim: number): string {
  const size = n % 1_000_000 === 0 ? `${n / 1_000_000}m` : n % 1000 === 0 ? `${n / 1000}k` : String(n);
  return `synthetic-${size}-${dim}`;
}

/** Ground truth by the project's own exact search, cached beside the data. */
async function writeGroundTruth(dir: string, base: Float32Array, queries: Float32Array, dim: number, metric: Metric, report?: Reporter) {
  const nq = queries.length / dim;
  const k = Math.min(GROUND_TRUTH_K, base.length / dim);
  report?.('groundtruth', 0, nq);
  const gt = await exactSearch(base, queries, dim, k, { metric });
  report?.('groundtruth', nq, nq);
  writeVectors(join(dir, 'groundtruth.tmp.ibin'), new Int32Array(gt.ids.buffer, gt.ids.byteOffset, gt.ids.length), k);
  renameSync(join(dir, 'groundtruth.tmp.ibin'), join(dir, 'groundtruth.ibin'));
}

function writeInfo(dir: string, info: DatasetInfo) {
  writeFileSync(join(dir, 'info.json'), JSON.stringify(info, null, 2) + '\n');
}

export interface PrepareOptions {
  /** For synthetic and synthetic-aniso: overrides of the generator (n, dim, clusters, spread, seed, zipf) and query count. */
  synthetic?: Partial<SyntheticOptions> & Partial<Pick<AnisoOptions, 'zipf'>> & { queries?: number };
  force?: boolean;
  report?: Reporter;
}

/** Prepare a named dataset into datasets/<name>; returns its folder. Reuses what is already there. */
export async function prepareDataset(name: string, options: PrepareOptions = {}): Promise<string> {
  const report = options.report;
  if (name === 'fashion-mnist') {
    const dir = join(DATASETS_DIR, name);
    if (!options.force && existsSync(join(dir, 'groundtruth.ibin'))) return dir;
    resetDatasetDir(dir);
    const { base, queries } = loadFashionMnist();
    writeVectors(join(dir, 'base.fbin'), base.data, base.dim);
    writeVectors(join(dir, 'query.fbin'), queries.data, queries.dim);
    await writeGroundTruth(dir, base.data, queries.data, base.dim, 'l2', report);
    writeInfo(dir, { name, metric: 'l2', dim: base.dim, baseCount: base.count, queryCount: queries.count, source: 'Debian dataset-fashion-mnist (ann-benchmarks fashion-mnist-784-euclidean layout)', createdAt: new Date().toISOString() });
    return dir;
  }
  const aniso = parseAnisoName(name);
  if (aniso) {
    const o: AnisoOptions = { ...aniso, ...options.synthetic };
    return prepareGenerated(name, o, options, (path, n, stream, progress) => writeAnisoFbin(path, o, n, stream, progress), `anisotropic Gaussian mixture ${JSON.stringify(o)}`);
  }
  const parsed = name === 'synthetic' ? undefined : parseSyntheticName(name);
  if (name === 'synthetic' || parsed) {
    const o: SyntheticOptions = { n: 100_000, dim: 96, ...DEFAULT_SYNTHETIC, ...parsed, ...options.synthetic };
    const dirName = name === 'synthetic' ? syntheticName(o.n, o.dim) : name;
    return prepareGenerated(dirName, o, options, (path, n, stream, progress) => writeMixtureFbin(path, o, n, stream, progress), `Gaussian mixture ${JSON.stringify(o)}`);
  }
  throw createError('STRATA_DATASET_MISSING', `unknown dataset ${JSON.stringify(name)}: use fashion-mnist, synthetic, synthetic-<n>[k|m]-<dim>, synthetic-aniso[-<n>[k|m]-<dim>], or a path`, 'dataset');
}

/**
 * Make a dataset's folder ready for new data: the benches keep the indexes they built from it in
 * <dir>/indexes and reuse them by name, so indexes of earlier data must go with it.
 */
function resetDatasetDir(dir: string): void {
  rmSync(join(dir, INDEXES_DIR), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

/** A generated dataset: base (stream 1), queries (stream 2), exact ground truth, info.json. */
async function prepareGenerated(
  dirName: string,
  o: { n: number; dim: number },
  options: PrepareOptions,
  write: (path: string, n: number, stream: number, progress?: (done: number) => void) => void,
  source: string,
): Promise<string> {
  const report = options.report;
  const nq = options.synthetic?.queries ?? 1000;
  const dir = join(DATASETS_DIR, dirName);
  if (!options.force && existsSync(join(dir, 'groundtruth.ibin'))) return dir;
  resetDatasetDir(dir);
  write(join(dir, 'base.fbin'), o.n, 1, (done) => report?.('generate', done, o.n));
  write(join(dir, 'query.fbin'), nq, 2);
  const base = readFloatVectors(join(dir, 'base.fbin'));
  const queries = readFloatVectors(join(dir, 'query.fbin'));
  await writeGroundTruth(dir, base.data, queries.data, o.dim, 'l2', report);
  writeInfo(dir, { name: dirName, metric: 'l2', dim: o.dim, baseCount: o.n, queryCount: nq, source, createdAt: new Date().toISOString() });
  return dir;
}

function findFile(dir: string, stem: string, exts: string[]): string | undefined {
  const files = readdirSync(dir);
  for (const ext of exts) {
    const hit = files.find((f) => f.toLowerCase().startsWith(stem) && f.toLowerCase().endsWith(ext));
    if (hit) return join(dir, hit);
  }
  return undefined;
}

/**
 * Convert an ann-benchmarks HDF5 file into a prepared folder datasets/<file stem>/ (base.fbin,
 * query.fbin, groundtruth.ibin from the file's `neighbors`, or computed), once; returns the folder.
 */
async function prepareHdf5(path: string, report?: Reporter): Promise<string> {
  const dir = join(DATASETS_DIR, basename(path, extname(path)));
  if (existsSync(join(dir, 'groundtruth.ibin'))) return dir;
  mkdirSync(dir, { recursive: true });
  const h = await readAnnBenchmarksHdf5(path);
  writeVectors(join(dir, 'base.fbin'), h.train, h.dim);
  writeVectors(join(dir, 'query.fbin'), h.test, h.dim);
  if (h.neighbors) writeVectors(join(dir, 'groundtruth.ibin'), h.neighbors, h.gtK);
  else await writeGroundTruth(dir, h.train, h.test, h.dim, h.metric, report);
  writeInfo(dir, { name: basename(dir), metric: h.metric, dim: h.dim, baseCount: h.trainCount, queryCount: h.testCount, source: `ann-benchmarks HDF5 ${path} (distance ${h.distance})`, createdAt: new Date().toISOString() });
  return dir;
}

export interface LoadOptions extends PrepareOptions {
  /** Keep only the first queries. */
  maxQueries?: number;
  /** Skip reading the base vectors (benchmark search processes do not need them). Default true. */
  withBase?: boolean;
}

/**
 * Load a dataset by name (preparing it first when needed) or by path: an ann-benchmarks HDF5 file
 * (converted once into a prepared folder) or a folder of base / query / groundtruth vector files.
 */
export async function loadDataset(nameOrPath: string, options: LoadOptions = {}): Promise<Dataset> {
  let dir: string;
  if (existsSync(nameOrPath) && statSync(nameOrPath).isFile()) dir = await prepareHdf5(nameOrPath, options.report);
  else if (existsSync(nameOrPath) && statSync(nameOrPath).isDirectory()) dir = nameOrPath;
  else dir = await prepareDataset(nameOrPath, options);
  const name = basename(resolve(dir));
  const baseFile = findFile(dir, 'base', ['.fbin', '.fvecs', '.bvecs']);
  const queryFile = findFile(dir, 'query', ['.fbin', '.fvecs', '.bvecs']);
  if (!baseFile || !queryFile) throw createError('STRATA_DATASET_MISSING', `${dir} needs base.* and query.* vector files`, 'dataset');
  const withBase = options.withBase ?? true;
  const shape = vectorFileShape(baseFile);
  const base = withBase ? readFloatVectors(baseFile) : { data: new Float32Array(0), count: shape.count, dim: shape.dim };
  const queries = readFloatVectors(queryFile);
  if (queries.dim !== base.dim) throw createError('STRATA_DIMENSION_MISMATCH', `${queryFile} has dimension ${queries.dim}, ${baseFile} has ${base.dim}`, 'queries');
  const infoPath = join(dir, 'info.json');
  const metric: Metric = existsSync(infoPath) ? (JSON.parse(readFileSync(infoPath, 'utf8')) as DatasetInfo).metric : 'l2';
  let gtFile = findFile(dir, 'groundtruth', ['.ibin', '.ivecs']);
  if (!gtFile) {
    const full = withBase ? base.data : readFloatVectors(baseFile).data;
    await writeGroundTruth(dir, full, queries.data, base.dim, metric, options.report);
    gtFile = join(dir, 'groundtruth.ibin');
  }
  const gt = readIntVectors(gtFile);
  if (gt.count !== queries.count) throw createError('STRATA_FILE_FORMAT', `${gtFile} has ${gt.count} rows for ${queries.count} queries`, 'groundtruth');
  return trimQueries({ name, metric, dim: base.dim, base: base.data, baseCount: base.count, queries: queries.data, queryCount: queries.count, groundTruth: gt.data, gtK: gt.dim }, options.maxQueries);
}

function trimQueries(d: Dataset, max?: number): Dataset {
  if (!max || max >= d.queryCount) return d;
  return { ...d, queries: d.queries.subarray(0, max * d.dim), queryCount: max, groundTruth: d.groundTruth.subarray(0, max * d.gtK) };
}

/** recall@k of result ids (k per query) against ground truth (gtK per query). */
export function recallAtK(ids: Uint32Array, k: number, gt: Int32Array, gtK: number, queries: number): number {
  let hits = 0;
  for (let q = 0; q < queries; q++) {
    const truth = new Set<number>();
    for (let j = 0; j < k; j++) truth.add(gt[q * gtK + j]);
    for (let j = 0; j < k; j++) if (truth.has(ids[q * k + j])) hits++;
  }
  return hits / (queries * k);
}
