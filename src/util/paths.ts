/** Where the repository and the shared models/corpora folder are, from any module (src or dist). */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (two levels above src/util or three above dist/src/util). */
export function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return resolve(here, here.includes('/dist/') ? '../../..' : '../..');
}

/** The shared models and corpora folder next to the repository (../shared), overridable by STRATA_SHARED_DIR. */
export const SHARED_DIR = process.env.STRATA_SHARED_DIR ?? join(repoRoot(), '..', 'shared');
