/** Reading files that may be stored gzip-compressed (the bundled corpora and tokenizers are). */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** `path` if it exists, else `path.gz` if that exists, else `path` (so the caller's error names it). */
export function plainOrGzip(path: string): string {
  return !existsSync(path) && existsSync(`${path}.gz`) ? `${path}.gz` : path;
}

/** A file's bytes, gunzipped when its name ends in `.gz`. */
export function readMaybeGzip(path: string): Buffer {
  const bytes = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

/** A text file (UTF-8), gunzipped when its name ends in `.gz`. */
export function readTextMaybeGzip(path: string): string {
  return readMaybeGzip(path).toString('utf8');
}
