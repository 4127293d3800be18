import { defineConfig } from 'vitest/config';

// `npm run test:cluster`: the suite against a real Ceph cluster on loopback (scripts/test-cluster.sh
// starts it and passes its S3 settings in the environment). One file at a time: the failure tests
// stop and start the cluster's daemons.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
    minWorkers: 1,
    fileParallelism: false,
  },
});
