#!/bin/bash
# Prepares the GPU device check (run here, as root, after scripts/build.sh): .gpu-bundle/ with
# kumod and every shared library it loads (glibc included: the device machine's may be older),
# vecadd built with nvcc, and a tiny instance root (busybox + the glibc/libstdc++ that vecadd
# and the driver's nvidia-smi need), well under 30 MiB. Then, on the device machine:
#   run(command="tests/gpu/device.sh", carry=[".gpu-bundle"], timeout_s=300)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b=$root/.gpu-bundle
rm -rf "$b" && mkdir -p "$b/bin" "$b/lib" "$b/rootfs"/{bin,dev,proc,sys,tmp,usr/bin,usr/lib/x86_64-linux-gnu,lib64}
closure() { ldd "$1" | awk '/=> \//{print $3} /^\t\/lib64/{print $1}'; }
strip -o "$b/bin/kumod" "$root/build/bin/kumod"  # the debug info would not fit the 64 MiB carry
for l in $(closure "$root/build/bin/kumod"); do cp -L "$l" "$b/lib/"; done
/usr/local/cuda/bin/nvcc -O2 -cudart static -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_80,code=compute_80 "$root/tests/gpu/vecadd.cu" -o "$b/bin/vecadd"
cp "$b/bin/vecadd" "$b/rootfs/usr/bin/"
for l in $(closure "$b/bin/vecadd") /lib/x86_64-linux-gnu/lib{dl,pthread,rt}.so.*; do
  cp -L "$l" "$b/rootfs/usr/lib/x86_64-linux-gnu/"
done
ln -sf ../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$b/rootfs/lib64/ld-linux-x86-64.so.2"
ln -sf usr/lib "$b/rootfs/lib"
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q busybox-static >/dev/null && dpkg -x busybox-static_*.deb x)
cp "$tmp/x/bin/busybox" "$b/rootfs/bin/"
for t in sh ls cat grep test mount; do ln -sf busybox "$b/rootfs/bin/$t"; done
du -sh "$b" "$b/rootfs"
