#!/usr/bin/env bash
# `npm run test:cluster`: start the loopback Ceph cluster (scripts/ceph-cluster.sh; installs Ceph when
# missing, root needed for that), run the object-store suite against it, stop it (STRATA_CEPH_KEEP=1
# leaves it running for the next run).
set -uo pipefail
cd "$(dirname "$0")/.."
settings=$(bash scripts/ceph-cluster.sh start) || { echo "test:cluster: the Ceph cluster did not start (see ${STRATA_CEPH_DIR:-/tmp/strata-ceph}/log)" >&2; exit 1; }
eval "$settings"
npx vitest run --config vitest.cluster.config.ts "$@"
rc=$?
[ -n "${STRATA_CEPH_KEEP:-}" ] || bash scripts/ceph-cluster.sh stop
exit $rc
