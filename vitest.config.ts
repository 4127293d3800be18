import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The object-store suite needs a Ceph cluster: `npm run test:cluster` starts one and runs it.
    // The browser suite needs Chromium: `npm run test:console` runs it.
    exclude: ['test/cluster/**', 'test/console/**', '**/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // 2-core machines: two test files at a time keeps builds from starving each other.
    maxWorkers: 2,
    minWorkers: 1,
    // Generated models (random-weight decoders) go to a cache inside the checkout, not the home folder.
    env: { STRATA_CACHE_DIR: process.env.STRATA_CACHE_DIR ?? '.cache' },
  },
});
