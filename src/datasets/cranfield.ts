/**
 * The Cranfield collection in its original SMART format (1,400 aeronautics abstracts, 225 queries):
 *
 *   cran.all.1400   records ".I <n>" followed by fields ".T" title, ".A" authors, ".B" source, ".W" text
 *   cran.qry        ".I <n>" / ".W" query text; the ".I" numbers are not the ids the judgements use:
 *                   queries are numbered 1..225 in file order
 *   cranqrel        "<query> <doc> <grade>": 1 = complete answer ... 4 = minimal interest, -1 (or 5) =
 *                   of no interest
 *
 * Grades become gains with 1 -> 4, 2 -> 3, 3 -> 2, 4 -> 1 so higher is better for nDCG; -1 and 5 are
 * dropped (not relevant).
 */
import { join } from 'node:path';
import { createError } from '../errors.js';
import type { RagDocument } from '../rag/documents.js';
import type { Qrels, RetrievalCorpus, TextQuery } from '../rag/evaluation.js';
import { readDatasetFile } from './beir.js';

interface SmartRecord {
  id: string;
  fields: Map<string, string>;
}

/** Split a SMART-format file into records of named fields (".T", ".W", ...). */
export function parseSmart(text: string, source: string): SmartRecord[] {
  const records: SmartRecord[] = [];
  let current: SmartRecord | null = null;
  let field = '';
  let lines: string[] = [];
  const flush = () => {
    if (current && field) current.fields.set(field, lines.join('\n').trim());
    lines = [];
  };
  text.split(/\r?\n/).forEach((line, i) => {
    const m = /^\.([A-Z])(?:\s+(.*))?$/.exec(line);
    if (m && m[1] === 'I') {
      flush();
      field = '';
      current = { id: (m[2] ?? '').trim(), fields: new Map() };
      records.push(current);
    } else if (m) {
      flush();
      if (!current) throw createError('STRATA_FILE_FORMAT', `${source}:${i + 1}: field .${m[1]} before the first .I record`, `${source}:${i + 1}`);
      field = m[1];
      if (m[2]) lines.push(m[2]);
    } else if (field) {
      lines.push(line);
    }
  });
  flush();
  return records;
}

/** Load Cranfield from a folder holding cran.all.1400, cran.qry and cranqrel. */
export function loadCranfield(dir: string): RetrievalCorpus {
  const documents: RagDocument[] = parseSmart(readDatasetFile(join(dir, 'cran.all.1400')), 'cran.all.1400').map((r) => {
    const doc: RagDocument = { id: r.id, text: r.fields.get('W') ?? '' };
    const title = r.fields.get('T');
    if (title) doc.title = title;
    const metadata: Record<string, string> = {};
    if (r.fields.get('A')) metadata.authors = r.fields.get('A') as string;
    if (r.fields.get('B')) metadata.bibliography = r.fields.get('B') as string;
    if (Object.keys(metadata).length > 0) doc.metadata = metadata;
    return doc;
  }).filter((d) => `${d.title ?? ''}${d.text}`.trim() !== '');
  const allQueries: TextQuery[] = parseSmart(readDatasetFile(join(dir, 'cran.qry')), 'cran.qry').map((r, i) => ({ id: String(i + 1), text: (r.fields.get('W') ?? '').replace(/\s+/g, ' ') }));
  const qrels: Qrels = new Map();
  readDatasetFile(join(dir, 'cranqrel')).split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const [q, d, g] = line.split(/\s+/).map(Number);
    if (!Number.isInteger(q) || !Number.isInteger(d) || !Number.isInteger(g)) throw createError('STRATA_FILE_FORMAT', `cranqrel:${i + 1}: expected "<query> <doc> <grade>"`, `cranqrel:${i + 1}`);
    if (g < 1 || g > 4) return;
    let m = qrels.get(String(q));
    if (!m) qrels.set(String(q), (m = new Map()));
    m.set(String(d), 5 - g);
  });
  return { name: 'cranfield', documents, queries: allQueries.filter((q) => qrels.has(q.id)), qrels };
}
