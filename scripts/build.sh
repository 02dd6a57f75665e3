#!/usr/bin/env bash
# Builds kumod and kumo into build/bin (or $KUMO_BUILD_DIR/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${KUMO_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=${KUMO_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
ninja -C "$dir"
