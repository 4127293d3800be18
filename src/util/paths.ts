/** Where the package's own files are, from any module (src or dist, in a checkout or node_modules). */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Package root (two levels above src/util or three above dist/src/util). */
export function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return resolve(here, here.includes('/dist/') ? '../../..' : '../..');
}

/** The models and corpora that ship with the package (README: "Bundled models and data"). */
export const ASSETS_DIR = join(repoRoot(), 'assets');

/** A bundled model's folder. */
export const assetModel = (name: string): string => join(ASSETS_DIR, 'models', name);

/** A bundled corpus's folder. */
export const assetCorpus = (name: string): string => join(ASSETS_DIR, 'corpora', name);

/** Where generated models (random-weight decoders) are kept once made: STRATA_CACHE_DIR, else ~/.cache/strata. */
export function cacheDir(): string {
  return process.env.STRATA_CACHE_DIR ?? join(homedir(), '.cache', 'strata');
}
