#!/usr/bin/env bash
# Builds kumod, kumo and the unit tests into build/bin (or $KUMO_BUILD_DIR/bin), and the web console
# into build/share/kumo/console, where kumod finds it; install.sh and
# test.sh share this one build, so installing then testing compiles once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${KUMO_BUILD_DIR:-$root/build}
# Flags are explicit so a cache left by another configuration cannot turn the tests off.
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKUMO_TESTS=ON \
  -DKUMO_BENCH=ON -DKUMO_SANITIZE=OFF -DKUMO_FUZZ=OFF "$@" >/dev/null
ninja -C "$dir"
# kumod runs without a console (it says so at /console/), so a console that cannot be built (no
# npm, no registry) does not stop the build; the console's tests then fail and say why.
"$root/scripts/build-console.sh" "$dir" ||
  echo "kumo: WARNING: the web console was not built (scripts/build-console.sh failed)" >&2
