/**
 * Loads one of the small N-API addons built from src/native at install (binding.gyp), from the
 * source tree (src/…) or the compiled tree (dist/src/…). Null when it was not built, or when
 * STRATA_NO_NATIVE=1 asks for the JS fallbacks.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export function loadAddon<T>(name: string): T | null {
  if (process.env.STRATA_NO_NATIVE === '1') return null;
  const here = fileURLToPath(new URL('.', import.meta.url));
  // src/util -> ../../build ; dist/src/util -> ../../../build
  for (const rel of [`../../build/Release/${name}.node`, `../../../build/Release/${name}.node`]) {
    const file = resolve(here, rel);
    if (existsSync(file)) return createRequire(import.meta.url)(file) as T;
  }
  return null;
}
