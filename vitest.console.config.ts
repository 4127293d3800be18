import { defineConfig } from 'vitest/config';

// `npm run test:console`: the web console in headless Chromium against a real `strata serve`
// (scripts/test-console.sh). One file, one browser.
export default defineConfig({
  test: {
    include: ['test/console/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    minWorkers: 1,
    env: { STRATA_CACHE_DIR: process.env.STRATA_CACHE_DIR ?? '.cache' },
  },
});
