#!/usr/bin/env bash
# Host integration that needs root, shared by install.sh and test.sh (idempotent): libnss_kumo,
# so instances' public names (ec2-A-B-C-D.<region>.compute.kumo) resolve on the host with no
# per-name state, and root's subordinate ids for unprivileged instances.
# Usage: scripts/install-host.sh BUILD_DIR
set -euo pipefail
build=${1:?build dir}
libdir=/usr/lib/$(gcc -print-multiarch)
install -m 0644 "$build/lib/libnss_kumo.so.2" "$libdir/libnss_kumo.so.2"
ldconfig
# "kumo" goes right after "files" on the hosts line; other lines and sources stay as they are.
if ! grep -Eq '^hosts:.*\bkumo\b' /etc/nsswitch.conf; then
  if grep -Eq '^hosts:' /etc/nsswitch.conf; then
    sed -i -E '/^hosts:/ { /\bfiles\b/ s/\bfiles\b/files kumo/; t; s/^hosts:[[:space:]]*/hosts: kumo /; }' \
      /etc/nsswitch.conf
  else
    echo "hosts: files kumo dns" >> /etc/nsswitch.conf
  fi
fi

# Unprivileged instances: container root is a host uid from root's subordinate range. High above
# where useradd hands out ranges (SUB_UID_MAX is 600100000), so no user's namespace overlaps it.
for f in /etc/subuid /etc/subgid; do
  grep -q '^root:' "$f" 2>/dev/null || echo "root:1000000000:65536" >> "$f"
done

# Every unprivileged instance's root is the same host uid, and the kernel counts inotify
# instances per uid: systemd in each container takes several, so the default 128 stops the
# ~20th instance's init ("Too many open files"). The values LXD's production setup uses.
cat > /etc/sysctl.d/60-kumo.conf <<'SYSCTL'
fs.inotify.max_user_instances = 1048576
fs.inotify.max_user_watches = 1048576
kernel.keys.maxkeys = 2000
kernel.keys.maxbytes = 2000000
SYSCTL
sysctl -q -p /etc/sysctl.d/60-kumo.conf || echo "kumo: could not apply /etc/sysctl.d/60-kumo.conf" >&2
