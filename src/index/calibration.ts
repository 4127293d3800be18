/**
 * Recall as the knob. After a build the index measures how recall@k grows with its search budget (the
 * posting lists a query reads, maxLists) on a sample of its own vectors used as queries — each left out
 * of its own answer — against their exact nearest neighbours, and stores the curve with the sample
 * (CalibrationRecord). `targetRecall` is then mapped to the smallest budget whose measured recall
 * reaches the target. A compaction measures the curve again on the stored sample (its ground truth
 * filtered to live vectors); `strata tune` can also recompute the ground truth from the stored vectors.
 *
 * Why the index's own vectors: they are the one sample of the data's distribution every index has;
 * held-out queries drawn from the same distribution see the same curve (a leave-one-out query is a
 * fresh draw for every vector but itself). Queries unlike the data (another model, another domain)
 * need their own curve: measure recall with `strata bench` on them.
 */
import type { CalibrationRecord } from '../storage/records.js';
import { exactSearch } from './exact.js';
import type { Metric } from './distance.js';
import { NO_ID } from './topk.js';
import { createRng, rowRange, sampleWithoutReplacement } from '../util/random.js';

/** Layout version of CalibrationRecord. */
export const CALIBRATION_FORMAT = 1;
/** The curve is recall@CALIBRATION_K. */
export const CALIBRATION_K = 10;
/** Neighbours kept per sample query: more than k, so the curve can be measured again after deletes. */
const TRUTH_K = 20;
/** Budgets measured, until recall reaches STOP_RECALL, stops growing (plateau) or the budget covers every list. */
const LADDER = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096];
const STOP_RECALL = 0.995;
/** Recall gained over the last two budgets below which the ladder stops (see plateau). */
const PLATEAU = 0.002;
/**
 * Added to a target before the lookup: the sample's own standard error (300 queries × 10 neighbours
 * at recall 0.95 is about 0.004), so that held-out queries land at or above the target.
 */
const MARGIN = 0.005;
/** Fewer scoreable sample queries than this and the index keeps the fixed default budget. */
const MIN_QUERIES = 20;
/** Indexes smaller than this have no calibration (the sample is at most a tenth of the vectors). */
export const MIN_CALIBRATION_VECTORS = MIN_QUERIES * 10;

/** The sample part of a calibration record. */
export type CalibrationSample = Pick<CalibrationRecord, 'sampleVectors' | 'sampleIds' | 'truth' | 'truthK'>;

/** Searches the curve is measured with: k results for one query at a budget (external ids, nearest first). */
export type BudgetSearch = (query: Float32Array, k: number, maxLists: number) => Uint32Array;

/** The sample of a build: `count` of its vectors and their exact nearest other vectors. */
export async function calibrationSample(
  vectors: Float32Array,
  ids: Uint32Array,
  dim: number,
  metric: Metric,
  count: number,
  seed: number,
): Promise<CalibrationSample | null> {
  const n = ids.length;
  const s = Math.min(count, Math.floor(n / 10));
  if (s < MIN_QUERIES || n <= CALIBRATION_K) return null;
  const rows = sampleWithoutReplacement(rowRange(n), s, createRng(seed ^ 0x5eed));
  const queries = new Float32Array(s * dim);
  for (let i = 0; i < s; i++) queries.set(vectors.subarray(rows[i] * dim, (rows[i] + 1) * dim), i * dim);
  const truthK = Math.min(TRUTH_K, n - 1);
  const selfIds = Uint32Array.from(rows, (r) => ids[r]);
  // One more than kept: the query's own vector (or an exact duplicate of it) comes back among them.
  const gt = await exactSearch(vectors, queries, dim, truthK + 1, { metric, labels: ids });
  const truth = new Uint32Array(s * truthK).fill(NO_ID);
  for (let q = 0; q < s; q++) keepOthers(gt.ids.subarray(q * (truthK + 1), (q + 1) * (truthK + 1)), selfIds[q], truth, q * truthK, truthK);
  return { sampleVectors: bytesOf(queries), sampleIds: bytesOf(selfIds), truth: bytesOf(truth), truthK };
}

/** The ids of `found` other than `self` (and NO_ID), in order, into out[off..off+want): a query's neighbours without itself. */
function keepOthers(found: Uint32Array, self: number, out: Uint32Array, off: number, want: number): void {
  let w = 0;
  for (let j = 0; j < found.length && w < want; j++) if (found[j] !== self && found[j] !== NO_ID) out[off + w++] = found[j];
}

/**
 * The sample with its ground truth recomputed by `exact` (the index's own exact search over what it
 * stores, asked for truthK + 1 neighbours): after inserts the stored truth misses the new vectors.
 */
export function recomputeTruth(sample: CalibrationSample, dim: number, exact: (query: Float32Array, k: number) => Uint32Array): CalibrationSample {
  const queries = floatsOf(sample.sampleVectors);
  const selfIds = u32Of(sample.sampleIds);
  const tk = sample.truthK;
  const truth = new Uint32Array(selfIds.length * tk).fill(NO_ID);
  for (let q = 0; q < selfIds.length; q++) keepOthers(exact(queries.subarray(q * dim, (q + 1) * dim), tk + 1), selfIds[q], truth, q * tk, tk);
  return { sampleVectors: sample.sampleVectors, sampleIds: sample.sampleIds, truth: bytesOf(truth), truthK: tk };
}

/**
 * Measure recall@k of the sample at each budget of the ladder, up to STOP_RECALL, a plateau or `lists` (every
 * list). `isLive` drops deleted vectors from the ground truth; a query left with fewer than k live
 * neighbours is not scored. Returns null when too few queries can be scored.
 */
export function measureCurve(
  sample: CalibrationSample,
  dim: number,
  lists: number,
  search: BudgetSearch,
  isLive: (id: number) => boolean,
  at: { version: number; count: number },
): CalibrationRecord | null {
  const k = CALIBRATION_K;
  const started = performance.now();
  const queries = floatsOf(sample.sampleVectors);
  const selfIds = u32Of(sample.sampleIds);
  const truth = u32Of(sample.truth);
  const tk = sample.truthK;
  // The live top-k of each query's stored neighbours.
  const scored: number[] = [];
  const liveTruth: Set<number>[] = [];
  for (let q = 0; q < selfIds.length; q++) {
    if (!isLive(selfIds[q])) continue;
    const set = new Set<number>();
    for (let j = 0; j < tk && set.size < k; j++) {
      const id = truth[q * tk + j];
      if (id !== NO_ID && isLive(id)) set.add(id);
    }
    if (set.size < k) continue;
    scored.push(q);
    liveTruth.push(set);
  }
  if (scored.length < MIN_QUERIES) return null;
  const maxLists: number[] = [];
  const recall: number[] = [];
  for (const budget of LADDER) {
    const b = Math.min(budget, lists);
    let hits = 0;
    for (let i = 0; i < scored.length; i++) {
      const q = scored[i];
      const found = search(queries.subarray(q * dim, (q + 1) * dim), k + 1, b);
      let kept = 0;
      for (let j = 0; j < found.length && kept < k; j++) {
        if (found[j] === selfIds[q]) continue;
        kept++;
        if (liveTruth[i].has(found[j])) hits++;
      }
    }
    maxLists.push(b);
    recall.push(hits / (scored.length * k));
    if (recall[recall.length - 1] >= STOP_RECALL || b >= lists || plateau(recall)) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const { sampleVectors, sampleIds, truth: storedTruth, truthK } = sample; // a stored record may be passed as its sample
  return { format: CALIBRATION_FORMAT, k, maxLists, recall, queries: scored.length, version: at.version, count: at.count, seconds, sampleVectors, sampleIds, truth: storedTruth, truthK };
}

/**
 * Recall has stopped growing with the budget: the last two steps (each 1.5× the lists) gained less
 * than PLATEAU together — a lossy codec without Refine tops out below STOP_RECALL, and more lists
 * only cost time.
 */
function plateau(recall: number[]): boolean {
  const n = recall.length;
  return n >= 3 && recall[n - 1] - recall[n - 3] < PLATEAU && recall[n - 1] > 0.5;
}

/**
 * The budget (maxLists) for a target recall: the smallest one whose measured recall reaches
 * target + MARGIN, interpolated linearly between the two measured budgets around it (recall grows
 * concavely with the budget, so the interpolation errs on the side of more lists). A target beyond
 * the curve gets its last budget.
 */
export function budgetFor(curve: Pick<CalibrationRecord, 'maxLists' | 'recall'>, target: number): number {
  const want = Math.min(target + MARGIN, curve.recall[curve.recall.length - 1]);
  const { maxLists, recall } = curve;
  if (recall[0] >= want) return maxLists[0];
  for (let i = 1; i < recall.length; i++) {
    if (recall[i] < want) continue;
    // Between two measured budgets: a fractional one (two decimals), read as floor or ceil per query
    // (searcher.ts listsFor) so that the mean lands on the interpolated recall, not the next step up.
    const f = (want - recall[i - 1]) / Math.max(1e-9, recall[i] - recall[i - 1]);
    return Math.max(maxLists[i - 1] + 0.01, Math.ceil(100 * (maxLists[i - 1] + f * (maxLists[i] - maxLists[i - 1]))) / 100);
  }
  return maxLists[maxLists.length - 1];
}

function bytesOf(a: Float32Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A typed copy of stored bytes (msgpack hands back unaligned views). */
function floatsOf(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

function u32Of(b: Uint8Array): Uint32Array {
  const out = new Uint32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
