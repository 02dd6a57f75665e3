#!/usr/bin/env bash
# The console: bundle sizes, kumod serving it (wrk: index.html and the main script against
# /healthz, the cheapest answer kumod has, in the same run), and first paint in chromium
# (bench/console_bench.mjs). Usage: bench/console_bench.sh [wrk-seconds]   (default 5)
# Needs a build (scripts/build.sh) and chromium (scripts/deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d)
port=$(free_port)
cleanup() { kill "$kpid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
"$root/build/bin/kumod" --data-dir "$tmp/data" --listen "127.0.0.1:$port" --host-root "$tmp/host" \
  --pool-dir "$tmp/pools" 2>"$tmp/kumod.log" &
kpid=$!
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
base=http://127.0.0.1:$port
script=$(curl -fs "$base/console/" | grep -o '/console/assets/index-[^"]*\.js' | head -1)

echo "## bundle (gzip -9 as sent over a compressing proxy; kumod sends it uncompressed)"
for f in "$root"/build/share/kumo/console/assets/*; do
  printf '%-28s %8d bytes  %7d gzip\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
echo
echo "## kumod serving (wrk, 2 threads, 8 connections, ${secs}s each)"
ratio() { /usr/bin/python3 -c "print(f'{$1 / $2:.2f}')"; }
rate() { wrk -t2 -c8 -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
h=$(rate "$base/healthz"); i=$(rate "$base/console/"); s=$(rate "$base$script")
printf '| path | req/s | vs /healthz |\n|---|---|---|\n'
printf '| /healthz | %s | 1.00 |\n' "$h"
printf '| /console/ (index.html) | %s | %s |\n' "$i" "$(ratio "$i" "$h")"
printf '| %s | %s | %s |\n' "$script" "$s" "$(ratio "$s" "$h")"
echo
echo "## first paint (chromium)"
creds=$("$root/build/bin/kumo" --data-dir "$tmp/data" account create bench)
ak=$(echo "$creds" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKeyId"])')
sk=$(echo "$creds" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["SecretAccessKey"])')
node "$root/bench/console_bench.mjs" "$base/console/" "$ak" "$sk" "${KUMO_BENCH_RUNS:-15}"
