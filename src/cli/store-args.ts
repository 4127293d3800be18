/**
 * `--store s3://bucket/prefix` for the commands that use an index on object storage (the settings
 * come from the environment: storage/object-store.ts openS3Url).
 */
export const STORE_HELP = 's3://bucket/prefix; endpoints and keys from STRATA_S3_ENDPOINTS, STRATA_S3_ACCESS_KEY, STRATA_S3_SECRET_KEY (scripts/ceph-cluster.sh env prints them for the loopback cluster)';
