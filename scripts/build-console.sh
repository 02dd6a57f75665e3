#!/usr/bin/env bash
# Builds the web console (TypeScript, Vite) into <build dir>/share/kumo/console, where kumod looks
# for it (<kumod's dir>/../share/kumo/console). Skips npm and Vite when nothing they read changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${KUMO_BUILD_DIR:-$root/build}}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
out=$dir/share/kumo/console
cd "$root/console"
command -v npm >/dev/null || { echo "kumo: npm not found (scripts/deps.sh installs it)" >&2; exit 1; }

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.kumo-lock 2>/dev/null)" != "$lock_sum" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.kumo-lock
fi
src_sum=$( (echo "$lock_sum"; find src index.html package.json vite.config.ts tsconfig.json -type f -print0 | sort -z |
  xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)
# The stamp sits beside the output, not in it, so kumod does not serve it.
if [ -f "$out/index.html" ] && [ "$(cat "$out/../console.src-sum" 2>/dev/null)" = "$src_sum" ]; then exit 0; fi
npx tsc --noEmit
npx vite build --logLevel warn --outDir "$out"
echo "$src_sum" > "$out/../console.src-sum"
