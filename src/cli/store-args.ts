/**
 * `--store s3://bucket/prefix` for the commands that use an index on object storage: the bucket and
 * prefix from the URL, the endpoints and credentials from the environment (STRATA_S3_ENDPOINTS, a
 * comma-separated list of URLs — empty for AWS itself —, STRATA_S3_ACCESS_KEY, STRATA_S3_SECRET_KEY,
 * STRATA_S3_REGION); `scripts/ceph-cluster.sh env` prints them for the loopback cluster.
 */
import { createError } from '../errors.js';
import { S3ObjectStore } from '../storage/object-store.js';

export const STORE_HELP = 's3://bucket/prefix; endpoints and keys from STRATA_S3_ENDPOINTS, STRATA_S3_ACCESS_KEY, STRATA_S3_SECRET_KEY (scripts/ceph-cluster.sh env prints them for the loopback cluster)';

export function isStoreUrl(s: string): boolean {
  return s.startsWith('s3://');
}

export async function openStore(url: string, create = false): Promise<S3ObjectStore> {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw createError('STRATA_INVALID_OPTION', `--store ${JSON.stringify(url)} is not s3://bucket[/prefix]`, 'store');
  const accessKeyId = process.env.STRATA_S3_ACCESS_KEY ?? '';
  const secretAccessKey = process.env.STRATA_S3_SECRET_KEY ?? '';
  if (!accessKeyId || !secretAccessKey) throw createError('STRATA_INVALID_OPTION', 'set STRATA_S3_ACCESS_KEY and STRATA_S3_SECRET_KEY (and STRATA_S3_ENDPOINTS for a store other than AWS)', 'store');
  return S3ObjectStore.open({
    endpoints: (process.env.STRATA_S3_ENDPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    bucket: m[1],
    prefix: m[2],
    accessKeyId,
    secretAccessKey,
    ...(process.env.STRATA_S3_REGION ? { region: process.env.STRATA_S3_REGION } : {}),
    createBucket: create,
  });
}
