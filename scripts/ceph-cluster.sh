#!/usr/bin/env bash
# A real Ceph cluster on this machine's loopback for Strata's object-store backend and its tests:
# one monitor, one manager, three OSDs (memstore: objects in the OSD's memory, capped per OSD), two
# RADOS gateways (S3) on two ports, and one S3 user. No containers; Debian's packages (Ceph 16.2),
# installed when missing.
#
#   scripts/ceph-cluster.sh start      create (or restart) the cluster; prints the S3 settings
#   scripts/ceph-cluster.sh stop       stop every daemon and remove the cluster's folder
#   scripts/ceph-cluster.sh status     `ceph -s`
#   scripts/ceph-cluster.sh env        the S3 settings as shell exports (eval "$(… env)")
#   scripts/ceph-cluster.sh kill-osd N / start-osd N / kill-rgw N / start-rgw N / wait-healthy
#                                      failure tests
#
# Settings (environment): STRATA_CEPH_DIR (default /tmp/strata-ceph), STRATA_CEPH_MON_PORT (6789),
# STRATA_CEPH_RGW_PORTS ("7480 7481"), STRATA_CEPH_OSD_BYTES (memstore bytes per OSD, 1 GiB).
# Root is needed to install packages; the daemons run as the calling user.
set -euo pipefail

DIR=${STRATA_CEPH_DIR:-/tmp/strata-ceph}
MON_PORT=${STRATA_CEPH_MON_PORT:-6789}
read -r -a RGW_PORTS <<<"${STRATA_CEPH_RGW_PORTS:-7480 7481}"
OSD_BYTES=${STRATA_CEPH_OSD_BYTES:-1073741824}
OSDS=3
CONF="$DIR/ceph.conf"
# Fixed test credentials: the cluster listens on loopback only and lives in a temporary folder.
ACCESS_KEY=strata-test-access
SECRET_KEY=strata-test-secret-key-loopback-only
BUCKET=strata

log() { echo "ceph-cluster: $*" >&2; }

install_packages() {
  local missing=()
  for bin in ceph-mon ceph-mgr ceph-osd radosgw ceph radosgw-admin monmaptool ceph-authtool; do
    command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Ceph (missing: ${missing[*]})"
  if [ "$(id -u)" != 0 ]; then
    log "root is needed to install ceph-mon ceph-mgr ceph-osd radosgw ceph-common"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq ceph-mon ceph-mgr ceph-osd radosgw ceph-common >/dev/null
}

ceph_cmd() { ceph -c "$CONF" "$@"; }

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$MON_PORT
public network = 127.0.0.0/8
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
# one host: replicas go to different OSDs, not different hosts
osd crush chooseleaf type = 0
osd pool default size = 3
osd pool default min size = 2
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool delete = true
mon allow pool size one = false
mon warn on pool no redundancy = false
mon warn on msgr2 not enabled = false
auth allow insecure global id reclaim = false
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000
ms bind ipv6 = false
[mon]
mon data = $DIR/mon.\$id
mon cluster log file = $DIR/log/cluster.log
[mgr]
mgr data = $DIR/mgr.\$id
mgr disabled modules = dashboard
[osd]
osd data = $DIR/osd.\$id
keyring = $DIR/osd.\$id/keyring
osd objectstore = memstore
memstore device bytes = $OSD_BYTES
osd memory target = 268435456
# recovery at full speed (the defaults pace it for spinning disks: a restarted OSD took minutes)
osd recovery sleep = 0
osd recovery sleep hdd = 0
osd recovery sleep ssd = 0
osd recovery sleep hybrid = 0
osd max backfills = 16
osd recovery max active = 16
osd max object name len = 460
osd max object namespace len = 64
[client.rgw]
rgw dns name = localhost
rgw data = $DIR/rgw.\$id
rgw enable usage log = false
rgw thread pool size = 64
EOF
}

start_osd() {
  local id=$1
  ceph-osd -c "$CONF" -i "$id" 2>>"$DIR/log/daemons.stderr"
}

start_rgw() {
  local n=$1 port=${RGW_PORTS[$1]}
  mkdir -p "$DIR/rgw.$n"
  radosgw -c "$CONF" -n "client.rgw.$n" --rgw-frontends="beast endpoint=127.0.0.1:$port tcp_nodelay=1" --keyring "$DIR/keyring" 2>>"$DIR/log/daemons.stderr"
}

wait_for() {
  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  shift 2
  local t=0
  until "$@" >/dev/null 2>&1; do
    t=$((t + 1))
    if [ $t -ge "$limit" ]; then
      log "timed out after ${limit}s waiting for $what"
      return 1
    fi
    sleep 1
  done
}

pgs_clean() {
  local out
  out=$(ceph_cmd pg stat 2>/dev/null) || return 1
  # "N pgs: N active+clean; ..." with every pg clean
  local total clean
  total=$(echo "$out" | sed -n 's/^\([0-9]*\) pgs:.*/\1/p')
  clean=$(echo "$out" | sed -n 's/.* \([0-9]*\) active+clean[;,].*/\1/p')
  [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$total" = "$clean" ]
}

s3_up() {
  local port=${RGW_PORTS[$1]}
  curl -sf -o /dev/null "http://127.0.0.1:$port/" || [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 403 ]
}

start() {
  install_packages
  if [ -f "$DIR/started" ] && pgrep -f "ceph-mon -c $CONF" >/dev/null; then
    log "the cluster in $DIR is running: starting any daemon that is not"
    restart
    print_env
    return
  fi
  # Memstore OSDs keep objects in memory: a cluster whose daemons are gone is made anew.
  [ -d "$DIR" ] && stop 2>/dev/null
  rm -rf "$DIR"
  mkdir -p "$DIR/run" "$DIR/log"
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"
  # Keys: the monitor's, the admin's (used by the ceph CLI), and the gateways'.
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  for n in "${!RGW_PORTS[@]}"; do
    ceph-authtool "$DIR/keyring" --gen-key -n "client.rgw.$n" --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
  done
  monmaptool --create --clobber --fsid "$fsid" --addv a "[v1:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" >/dev/null 2>&1
  ceph-mon -c "$CONF" -i a 2>>"$DIR/log/daemons.stderr"
  wait_for 60 "the monitor" ceph_cmd mon stat
  ceph_cmd auth import -i "$DIR/keyring" >/dev/null 2>&1
  mkdir -p "$DIR/mgr.x"
  ceph_cmd auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o "$DIR/mgr.x/keyring" >/dev/null
  ceph-mgr -c "$CONF" -i x --keyring "$DIR/mgr.x/keyring" 2>>"$DIR/log/daemons.stderr"
  for ((i = 0; i < OSDS; i++)); do
    local uuid
    uuid=$(cat /proc/sys/kernel/random/uuid)
    local id
    id=$(ceph_cmd osd new "$uuid")
    mkdir -p "$DIR/osd.$id"
    ceph_cmd auth get-or-create "osd.$id" mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' -o "$DIR/osd.$id/keyring" >/dev/null
    ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" >"$DIR/log/osd.$id.mkfs.log" 2>&1 ||
      { sleep 2; ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" >"$DIR/log/osd.$id.mkfs.log" 2>&1; }
    # An OSD's first start can fail while the monitor settles: try again.
    start_osd "$id" || { sleep 2; start_osd "$id"; }
  done
  wait_for 120 "$OSDS OSDs up" bash -c "ceph -c '$CONF' osd stat | grep -q '$OSDS up'"
  for n in "${!RGW_PORTS[@]}"; do start_rgw "$n"; done
  for n in "${!RGW_PORTS[@]}"; do wait_for 120 "the gateway on port ${RGW_PORTS[$n]}" s3_up "$n"; done
  radosgw-admin -c "$CONF" user create --uid=strata --display-name="Strata tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  wait_for 180 "every placement group active+clean" pgs_clean
  wait_for 60 "HEALTH_OK" bash -c "ceph -c '$CONF' health | grep -q HEALTH_OK"
  touch "$DIR/started"
  log "up: $(ceph_cmd -s --format json 2>/dev/null | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["health"]["status"], s["pgmap"]["num_pgs"], "PGs,", s["osdmap"]["num_up_osds"], "OSDs up")' 2>/dev/null || echo ok)"
  print_env
}

restart() {
  pgrep -f "ceph-mon -c $CONF" >/dev/null || ceph-mon -c "$CONF" -i a
  wait_for 60 "the monitor" ceph_cmd mon stat
  pgrep -f "ceph-mgr -c $CONF" >/dev/null || ceph-mgr -c "$CONF" -i x --keyring "$DIR/mgr.x/keyring"
  for ((i = 0; i < OSDS; i++)); do pgrep -f "ceph-osd -c $CONF -i $i\$" >/dev/null || start_osd "$i"; done
  for n in "${!RGW_PORTS[@]}"; do pgrep -f "client.rgw.$n " >/dev/null || start_rgw "$n"; done
  for n in "${!RGW_PORTS[@]}"; do wait_for 120 "the gateway on port ${RGW_PORTS[$n]}" s3_up "$n"; done
}

stop() {
  if [ -f "$CONF" ]; then
    pkill -f -- "-c $CONF" 2>/dev/null || true
    for _ in $(seq 1 20); do pgrep -f -- "-c $CONF" >/dev/null || break; sleep 0.5; done
    pkill -9 -f -- "-c $CONF" 2>/dev/null || true
  fi
  rm -rf "$DIR"
  log "stopped"
}

print_env() {
  local endpoints=""
  for port in "${RGW_PORTS[@]}"; do endpoints="${endpoints:+$endpoints,}http://127.0.0.1:$port"; done
  echo "export STRATA_S3_ENDPOINTS=$endpoints"
  echo "export STRATA_S3_ACCESS_KEY=$ACCESS_KEY"
  echo "export STRATA_S3_SECRET_KEY=$SECRET_KEY"
  echo "export STRATA_S3_BUCKET=$BUCKET"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) ceph_cmd -s ;;
  env) print_env ;;
  kill-osd) pkill -9 -f "ceph-osd -c $CONF -i ${2:?osd id}\$" ;;
  wait-healthy) wait_for 150 "HEALTH_OK" bash -c "ceph -c '$CONF' health | grep -q HEALTH_OK" ;;
  start-osd) start_osd "${2:?osd id}" ;;
  kill-rgw) pkill -9 -f "client.rgw.${2:?gateway number} " ;;
  start-rgw) start_rgw "${2:?gateway number}"; wait_for 60 "the gateway" s3_up "$2" ;;
  *)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
