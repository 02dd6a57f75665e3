#!/bin/bash
# The GPU device check, on a machine with an NVIDIA GPU (see prepare.sh). It does what Kumo's
# runtime does for a 1-GPU instance, with unshare instead of liblxc (the device machine has no
# LXC, loop devices or dnsmasq that could be relied on, and reaches no package registry): the
# GPU inventory comes from the carried kumod (`--print-gpus`: NVML, then /dev and /proc), then in
# a new mount and PID namespace over the tiny root it binds exactly the first GPU's node, the
# control nodes and the driver files read-only (the same list the runtime turns into
# lxc.mount.entry lines), and runs `nvidia-smi -L` and vecadd inside; vecadd also runs on the
# host for the overhead. A cgroup v1 devices controller, where present, gets the runtime's
# allow list. Output: $OUT/gpu-device.txt.
set -uo pipefail
b=$(cd "$(dirname "$0")/../.." && pwd)/.gpu-bundle
out=${OUT:-/tmp}/gpu-device.txt
exec > >(tee "$out") 2>&1
echo "== host"; uname -r; nvidia-smi -L; stat -fc 'cgroup fs: %T' /sys/fs/cgroup
for t in lxc-start dnsmasq; do command -v $t || echo "no $t"; done; ls /dev/loop-control 2>&1
echo "== kumod --print-gpus"
"$b/lib/ld-linux-x86-64.so.2" --library-path "$b/lib" "$b/bin/kumod" --print-gpus ${KUMO_GPU_STAND_IN:+--test-stand-in-gpus "$KUMO_GPU_STAND_IN"} > /tmp/gpus.json  # stand-ins: a dry run of this script on a machine without a GPU
cat /tmp/gpus.json
echo "== vecadd on the host"; "$b/bin/vecadd"
r=/tmp/kumo-gpu-root && rm -rf $r && cp -a "$b/rootfs" $r
python3 - /tmp/gpus.json $r > /tmp/binds <<'PY'
import json, os, sys
inv = json.load(open(sys.argv[1]))
gpu = inv["gpus"][0]
for d in [gpu["device"]] + inv["control_devices"]:
    print(d, "/dev/" + os.path.basename(d))  # as the runtime's dev/<basename> mount entries
for f in inv["driver_files"]:
    for p in f["container_paths"]:
        print(f["host_path"], p, "ro")
PY
unshare --mount --pid --fork --mount-proc sh -euc '
  r=$1
  while read -r src dst ro; do
    mkdir -p "$r$(dirname "$dst")"; touch "$r$dst"
    mount --bind "$src" "$r$dst"
    [ -n "$ro" ] && mount -o remount,bind,ro "$r$dst"
  done < /tmp/binds
  mount -t proc proc "$r/proc"; mount --rbind /sys "$r/sys"
  echo "== inside: /dev"; ls "$r/dev"
  chroot "$r" /bin/sh -c "nvidia-smi -L && vecadd"
' _ $r
echo "rc=$?"
