#!/bin/bash
# Peer benchmark: LXD (Debian's lxd 5.0.2) launching the very rootfs Kumo launches, so its numbers
# sit next to bench/launch_bench.py's "→ running" / "→ first ssh true" and the liblxc floor.
#
#   bench/lxd_bench.sh [N]      (as root; N sequential launches, default 50)
#   IDLE_S=60 sets how long the memory sample's container idles first.
#
# Per launch i: `lxc launch` → returned, → RUNNING (instance state API), → first `lxc exec … true`,
# → sshd listening on :22 (seen with `ss` inside, as the containers have no NIC), then
# `lxc delete --force` timed on its own, so every launch meets an idle host. Then one container
# idles IDLE_S seconds and its memory is read like launch_bench.py reads Kumo's.
#
# Kept between runs (installed once, reused): the lxd/lxd-client packages, the image alias
# kumo-debian-12, the storage pool and profile "kumobench". The daemon is stopped at exit if this
# script started it. To remove everything:
#   lxd waitready --timeout 30 || (setsid lxd --group lxd --logfile /var/log/lxd/lxd.log &)
#   lxc image delete kumo-debian-12; lxc profile delete kumobench; lxc storage delete kumobench
#   lxd shutdown
#   apt-get purge -y lxd lxd-client && apt-get autoremove -y; rm -rf /var/lib/lxd /var/log/lxd
#   # the lxd package's preinst appended _lxd and a second root range to /etc/subuid and
#   # /etc/subgid (after Kumo's first root line, which it leaves alone); purge does not undo that:
#   sed -i '/^_lxd:/d; /^root:1000065536:/d' /etc/subuid /etc/subgid
set -euo pipefail

N=${1:-50}
IDLE_S=${IDLE_S:-60}
ROOTFS=/var/lib/kumo/images/debian-12/rootfs
ALIAS=kumo-debian-12
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N>0]" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 2; }
[[ -d $ROOTFS ]] || { echo "no Kumo image at $ROOTFS" >&2; exit 2; }

now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }

WORK=$(mktemp -d /var/tmp/lxd-bench.XXXXXX)
STARTED_LXD=0
cleanup() {
  set +e
  if lxd waitready --timeout 5 2>/dev/null; then
    for c in $(lxc list -f csv -c n 2>/dev/null | grep '^kumobench-'); do lxc delete --force "$c"; done
    # Only stop a daemon we started: someone else's LXD stays as we found it.
    [[ $STARTED_LXD == 1 ]] && lxd shutdown --timeout 60
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. LXD from Debian (bookworm ships 5.0.2; no snap). Its postinst would start lxd through
#    invoke-rc.d; there is no init system here to own it, so the daemon is ours to start below.
if ! dpkg -s lxd lxd-client >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends lxd lxd-client >&2
fi

# Default LXD_DIR (/var/lib/lxd), so a plain `lxc` talks to it without exports. setsid detaches
# it from this shell's session so Ctrl-C here doesn't kill it mid-delete. Open files raised as far
# as allowed toward the package's init script's 65536.
if ! lxd waitready --timeout 1 2>/dev/null; then
  mkdir -p /var/log/lxd
  (ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; cd /
   exec setsid lxd --group lxd --logfile /var/log/lxd/lxd.log </dev/null >>/var/log/lxd/lxd.out 2>&1) &
  STARTED_LXD=1
  lxd waitready --timeout 60 || { echo "lxd did not come up; see /var/log/lxd/lxd.log" >&2; exit 1; }
fi

# Kumo maps its containers onto the first 65536 ids of root's first /etc/subuid line. LXD merges
# all of root's lines (the lxd preinst appended one right after Kumo's) and would take those same
# 65536; an isolated idmap at a fixed base gives LXD the next block instead. Same on-disk shift
# cost either way: the dir backend chowns each new rootfs ("Remapping container filesystem").
IDMAP_BASE=$(awk -F: '$1=="root"{print $2 + 65536; exit}' /etc/subuid)
[[ -n $IDMAP_BASE ]] || { echo "root has no /etc/subuid range" >&2; exit 1; }

# Preseed instead of `lxd init --auto`: --auto may create lxdbr0 with NAT to the outside. Our own
# pool and profile (root disk only, no NIC) keep the containers off every network and leave any
# existing default pool/profile alone. Re-applying an identical preseed is a no-op.
lxd init --preseed >/dev/null <<EOF
storage_pools:
- name: kumobench
  driver: dir
profiles:
- name: kumobench
  description: lxd_bench.sh - root disk only, no network
  config:
    security.idmap.isolated: "true"
    security.idmap.base: "$IDMAP_BASE"
    security.idmap.size: "65536"
  devices:
    root: {type: disk, path: /, pool: kumobench}
EOF

# 2. The same rootfs as Kumo, as a split image. Uncompressed: the dir backend unpacks the tarball
#    on every launch, so gzip would only add CPU time that Kumo doesn't pay.
if ! lxc image info "$ALIAS" >/dev/null 2>&1; then
  echo "Importing $ROOTFS as $ALIAS ..." >&2
  cat >"$WORK/metadata.yaml" <<EOF
architecture: x86_64
creation_date: $(date +%s)
properties:
  os: debian
  release: bookworm
  description: Kumo debian-12 rootfs (minbase + systemd + openssh-server)
EOF
  tar -C "$WORK" -cf "$WORK/meta.tar" metadata.yaml
  tar -C "$ROOTFS" --numeric-owner --xattrs --xattrs-include='*' -cf "$WORK/rootfs.tar" .
  lxc image import "$WORK/meta.tar" "$WORK/rootfs.tar" --alias "$ALIAS" >&2
  rm -f "$WORK"/*.tar
fi

# Polls with a deadline; each `lxc` call is itself tens of ms, so no sleep between tries.
wait_for() {  # deadline_s command...
  local end=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do (($(date +%s) < end)) || return 1; done
}
is_running() { lxc query "/1.0/instances/$1/state" | grep -q '"status": "Running"'; }
sshd_up() { lxc exec "$1" -- sh -c 'ss -Hltn "sport = :22" | grep -q .'; }

launch() {  # name; leaves t_ret t_run t_exec t_ssh (ns) behind
  local c=$1
  t0=$(now)
  # stderr kept aside: LXD nags that the instance has no network on every launch.
  lxc launch "$ALIAS" "$c" -p kumobench >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  t_ret=$(now)
  wait_for 120 is_running "$c" || { echo "$c never RUNNING" >&2; exit 1; }
  t_run=$(now)
  wait_for 120 lxc exec "$c" -- true || { echo "$c: exec never worked" >&2; exit 1; }
  t_exec=$(now)
  if wait_for 180 sshd_up "$c"; then t_ssh=$(now); else t_ssh=; fi
}

# 3. N sequential launches.
echo "Launching $N containers, one at a time ..." >&2
SSH_FAIL=0
for i in $(seq 1 "$N"); do
  c=kumobench-$i
  launch "$c"
  ms "$t0" "$t_ret" >>"$WORK/ret"
  ms "$t0" "$t_run" >>"$WORK/run"
  ms "$t0" "$t_exec" >>"$WORK/exec"
  if [[ -n $t_ssh ]]; then ms "$t0" "$t_ssh" >>"$WORK/ssh"; else SSH_FAIL=$((SSH_FAIL + 1)); fi
  t=$(now); lxc delete --force "$c"; ms "$t" "$(now)" >>"$WORK/del"
  printf '.' >&2
done
echo >&2

# p50 = median, p99 = nearest rank, as in launch_bench.py.
row() {  # label file
  [[ -s $2 ]] || { echo "| $1 | - | - | - | - |"; return; }
  sort -n "$2" | awk -v l="$1" '{v[NR]=$1} END {
    n=NR; p50=(n%2)?v[(n+1)/2]:(v[n/2]+v[n/2+1])/2
    i=int(0.99*(n-1)+0.5)+1; if (i>n) i=n
    printf "| %s | %.0f | %.0f | %.0f | %.0f |\n", l, p50, v[i], v[1], v[n] }'
}

DRIVER=$(lxc storage show kumobench | awk '/^driver:/{print $2}')
echo
LIBLXC=$(lxc info | awk '/driver_version:/{print $2}')
echo "## LXD $(lxd --version) (liblxc $LIBLXC, $DRIVER storage pool, no NIC): $N sequential launches of $ALIAS"
echo
echo "| step (from start of \`lxc launch\`) | p50 ms | p99 ms | min ms | max ms |"
echo "|---|---:|---:|---:|---:|"
row '`lxc launch` returned' "$WORK/ret"
row '→ RUNNING (instance state API)' "$WORK/run"
row '→ first `lxc exec … true`' "$WORK/exec"
row '→ sshd listening on :22 (`ss` via exec)' "$WORK/ssh"
row '`lxc delete --force` (own clock)' "$WORK/del"
((SSH_FAIL == 0)) || echo "(sshd not listening within 180 s in $SSH_FAIL of $N launches)"

# 4. Idle memory of one container, measured the way launch_bench.py measures Kumo's.
c=kumobench-idle
echo "Idle-memory sample: $c up for ${IDLE_S} s ..." >&2
launch "$c"
sleep "$IDLE_S"  # the idle period itself, not a wait for state
CG=$(find /sys/fs/cgroup/memory -maxdepth 4 -type d -name "lxc.payload.$c" | head -1)
[[ -n $CG ]] || { echo "no memory cgroup lxc.payload.$c" >&2; exit 1; }
pss_kib() { awk '/^Pss:/{s+=$2} END{print s+0}' $(printf '/proc/%s/smaps_rollup ' "$@") 2>/dev/null; }
USAGE=$(cat "$CG/memory.usage_in_bytes")
RSS=$(awk '$1=="total_rss"{print $2}' "$CG/memory.stat")
MON=$(pgrep -f "^\[lxc monitor\] .* $c\$" || true)
LXD_PID=$(lxc query /1.0 | awk -F': ' '/"server_pid"/{gsub(/[^0-9]/,"",$2); print $2}')
mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }
echo
echo "## Idle memory of one container after ${IDLE_S} s (cgroup $CG)"
echo
echo "| what | MiB |"
echo "|---|---:|"
echo "| container cgroup, all (memory.usage_in_bytes, incl. page cache) | $(mib "$USAGE") |"
echo "| container cgroup, anonymous (total_rss in memory.stat) | $(mib "$RSS") |"
echo "| liblxc \`[lxc monitor]\` process on the host (PSS) | $(mib $(($(pss_kib $MON) * 1024))) |"
echo "| lxd daemon (PSS), shared by all containers | $(mib $(($(pss_kib $LXD_PID) * 1024))) |"
lxc delete --force "$c"
