#!/usr/bin/env bash
# Installs every Debian package Kumo builds, runs or tests with. Idempotent: packages already
# installed are not touched and apt-get update runs only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libabsl-dev libboost-dev libssl-dev libsqlite3-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev lxc-dev lxcfs
  libnl-route-3-dev libnftables-dev dnsmasq-base nftables iproute2 e2fsprogs
  # run and test
  python3 python3-boto3 python3-botocore python3-pytest awscli openssh-client putty-tools
  curl ca-certificates wrk iputils-ping
  # the console's end-to-end tests: a real browser (playwright-core drives it)
  chromium fonts-dejavu-core
  # images
  mmdebstrap
)

missing=()
# The console is built with npm. Machines that already have a Node.js (>= 20, e.g. NodeSource's)
# keep it; elsewhere Debian's nodejs and npm are installed.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "kumo: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# playwright-core (the console's browser test) needs Node.js 20; Debian 12's is 18, which still
# builds the console. Say so rather than fail later.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)); then
  echo "kumo: Node.js $(node -v 2>/dev/null || echo missing) is older than 20: the console builds," \
    "but its browser test is skipped (install Node.js 20, e.g. NodeSource's nodejs, to run it)" >&2
fi
