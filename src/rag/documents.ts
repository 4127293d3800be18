/**
 * Documents as the RAG layer takes them, and the loaders for files: plain text (.txt), Markdown
 * (.md, .markdown) and JSONL (.jsonl: one {"id"|"_id", "title"?, "text", "metadata"?} per line, the
 * BEIR corpus layout). A file's document id is its path relative to the folder it was found under.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { createError } from '../errors.js';
import type { Attributes } from '../index/filter.js';
import { readTextMaybeGzip } from '../util/files.js';

export interface RagDocument {
  /** Unique within its tenant; re-ingesting the same id replaces the document. 1-512 characters. */
  id: string;
  title?: string;
  text: string;
  /** Attributes kept with the document and returned with its passages. */
  metadata?: Attributes;
  /** Where it came from (a path), for people. */
  source?: string;
}

export const MAX_DOCUMENT_ID = 512;

export function checkDocument(doc: RagDocument, where: string): void {
  if (typeof doc !== 'object' || doc === null) throw createError('STRATA_INVALID_DOCUMENT', `${where}: a document must be an object`, where);
  if (typeof doc.id !== 'string' || doc.id.length === 0 || doc.id.length > MAX_DOCUMENT_ID || doc.id.includes('\0')) {
    throw createError('STRATA_INVALID_DOCUMENT', `${where}.id must be a string of 1-${MAX_DOCUMENT_ID} characters without NUL, got ${JSON.stringify(doc.id)?.slice(0, 80)}`, `${where}.id`);
  }
  if (typeof doc.text !== 'string') throw createError('STRATA_INVALID_DOCUMENT', `${where}.text must be a string (document ${doc.id})`, `${where}.text`);
  if (doc.title !== undefined && typeof doc.title !== 'string') throw createError('STRATA_INVALID_DOCUMENT', `${where}.title must be a string (document ${doc.id})`, `${where}.title`);
  if (doc.metadata !== undefined && (typeof doc.metadata !== 'object' || doc.metadata === null || Array.isArray(doc.metadata))) {
    throw createError('STRATA_INVALID_DOCUMENT', `${where}.metadata must be an object (document ${doc.id})`, `${where}.metadata`);
  }
  if (`${doc.title ?? ''}${doc.text}`.trim() === '') throw createError('STRATA_INVALID_DOCUMENT', `${where}: document ${doc.id} has no text`, `${where}.text`);
}

/** The text that is chunked and embedded: the title (when there is one) as a first paragraph. */
export function documentBody(doc: RagDocument): string {
  return doc.title ? `${doc.title}\n\n${doc.text}` : doc.text;
}

/** Documents of one JSONL text (BEIR corpus lines work as they are). */
export function parseJsonl(text: string, source: string): RagDocument[] {
  const docs: RagDocument[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw createError('STRATA_INVALID_DOCUMENT', `${source}:${i + 1}: not valid JSON (${(err as Error).message})`, `${source}:${i + 1}`);
    }
    const id = o.id ?? o._id;
    const doc: RagDocument = { id: typeof id === 'number' ? String(id) : (id as string), text: o.text as string, source };
    if (o.title !== undefined && o.title !== '') doc.title = o.title as string;
    if (o.metadata !== undefined && o.metadata !== null && Object.keys(o.metadata as object).length > 0) doc.metadata = o.metadata as Attributes;
    checkDocument(doc, `${source}:${i + 1}`);
    docs.push(doc);
  }
  return docs;
}

const TEXT_EXTENSIONS = new Set(['.txt', '.md', '.markdown', '.text']);

/** A file's kind by extension, looking through a trailing `.gz` (corpus.jsonl.gz is JSONL). */
function kindOf(name: string): string {
  const lower = name.toLowerCase();
  return extname(lower.endsWith('.gz') ? lower.slice(0, -3) : lower);
}

/** Documents in a file or (recursively) a folder of .txt/.md/.jsonl files. */
export function loadDocuments(path: string): RagDocument[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw createError('STRATA_INVALID_DOCUMENT', `input: ${path} does not exist`, 'input');
  const files: Array<[string, string]> = [];
  if (st.isDirectory()) {
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (TEXT_EXTENSIONS.has(kindOf(e.name)) || kindOf(e.name) === '.jsonl') files.push([p, relative(path, p)]);
      }
    };
    walk(path);
  } else {
    files.push([path, path.split(/[\\/]/).pop() as string]);
  }
  const docs: RagDocument[] = [];
  for (const [file, id] of files) {
    const text = readTextMaybeGzip(file);
    if (kindOf(file) === '.jsonl') docs.push(...parseJsonl(text, file));
    else if (text.trim() !== '') docs.push({ id, text, source: file });
  }
  return docs;
}
