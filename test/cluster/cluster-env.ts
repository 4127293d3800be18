import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { S3StoreOptions } from '../../src/storage/object-store.js';

// The loopback Ceph cluster's S3 settings (`npm run test:cluster` puts them in the environment) and
// its control script (failure tests stop and start daemons).
export const endpoints = (process.env.STRATA_S3_ENDPOINTS ?? '').split(',').filter(Boolean);

export const clusterStore: S3StoreOptions = {
  endpoints,
  bucket: process.env.STRATA_S3_BUCKET ?? 'strata',
  accessKeyId: process.env.STRATA_S3_ACCESS_KEY ?? '',
  secretAccessKey: process.env.STRATA_S3_SECRET_KEY ?? '',
  createBucket: true,
  downMillis: 1000,
  timeoutMillis: 5000,
};

const SCRIPT = fileURLToPath(new URL('../../scripts/ceph-cluster.sh', import.meta.url));

/** Run scripts/ceph-cluster.sh with these arguments (kill-osd 1, start-rgw 0, wait-healthy …). */
export function cluster(...args: string[]): void {
  execFileSync('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 200_000 });
}
