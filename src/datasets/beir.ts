/**
 * BEIR-format retrieval corpora (https://github.com/beir-cellar/beir layout):
 *
 *   <dir>/corpus.jsonl     {"_id", "title", "text", "metadata"} per line
 *   <dir>/queries.jsonl    {"_id", "text"} per line
 *   <dir>/qrels/<split>.tsv  "query-id  corpus-id  score" with a header line
 *
 * Only queries with judgements in the split are returned, in file order.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { parseJsonl } from '../rag/documents.js';
import type { Qrels, RetrievalCorpus, TextQuery } from '../rag/evaluation.js';
import { plainOrGzip, readTextMaybeGzip } from '../util/files.js';

/** A dataset file's text (or its `.gz` beside it); STRATA_DATASET_MISSING when neither is there. */
export function readDatasetFile(path: string): string {
  const file = plainOrGzip(path);
  if (!existsSync(file)) throw createError('STRATA_DATASET_MISSING', `dataset: ${path} does not exist`, 'dir');
  return readTextMaybeGzip(file);
}

/** Parse a BEIR qrels TSV (header line optional). */
export function parseBeirQrels(text: string, source: string): Qrels {
  const qrels: Qrels = new Map();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || (i === 0 && /^query[-_]?id/i.test(line))) return;
    const [q, d, s] = line.split(/\t| +/);
    const grade = Number(s);
    if (!q || !d || !Number.isFinite(grade)) throw createError('STRATA_FILE_FORMAT', `${source}:${i + 1}: expected "query-id<TAB>corpus-id<TAB>score"`, `${source}:${i + 1}`);
    let m = qrels.get(q);
    if (!m) qrels.set(q, (m = new Map()));
    m.set(d, grade);
  });
  return qrels;
}

/** Load a BEIR dataset folder with the judgements of one split (default "test"). */
export function loadBeir(dir: string, split = 'test'): RetrievalCorpus {
  const documents = parseJsonl(readDatasetFile(join(dir, 'corpus.jsonl')), join(dir, 'corpus.jsonl'));
  const qrels = parseBeirQrels(readDatasetFile(join(dir, 'qrels', `${split}.tsv`)), join(dir, 'qrels', `${split}.tsv`));
  const queries: TextQuery[] = [];
  for (const line of readDatasetFile(join(dir, 'queries.jsonl')).split('\n')) {
    if (line.trim() === '') continue;
    const o = JSON.parse(line) as { _id: string | number; text: string };
    const id = String(o._id);
    if (qrels.has(id)) queries.push({ id, text: o.text });
  }
  return { name: dir.replace(/[\\/]+$/, '').split(/[\\/]/).pop() as string, documents, queries, qrels };
}
