#!/usr/bin/env bash
# Signed DescribeRegions / DescribeKeyPairs throughput and latency: kumod vs moto_server, in the
# same run, on this machine. Usage: bench/run_api_bench.sh [seconds-per-run]   (default 10)
#
# Actions: DescribeRegions, DescribeKeyPairs (reads) and CreateTags (a durable write).
# For each action: closed-loop max throughput (8 keep-alive connections) on both servers, then an
# open-loop run at half of kumod's max rate for its p99. Prints a markdown table with medians of
# 3 runs and the kumod/moto ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
build=$root/build-bench
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKUMO_TESTS=OFF >/dev/null
ninja -C "$build" kumod kumo kumo_loadgen >/dev/null

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1/$2" && return 0; sleep 0.05; done; return 1; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tmp=$(mktemp -d)
kport=$(free_port); mport=$(free_port)
cleanup() { kill "$kpid" "$mpid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

"$build/bin/kumod" --data-dir "$tmp/data" --listen "127.0.0.1:$kport" --region us-east-1 2>"$tmp/kumod.log" &
kpid=$!
moto_server -p "$mport" >"$tmp/moto.log" 2>&1 &
mpid=$!
wait_http "$kport" healthz
wait_http "$mport" ""
creds=$("$build/bin/kumo" --data-dir "$tmp/data" account create bench)
ak=$(echo "$creds" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKeyId"])')
sk=$(echo "$creds" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["SecretAccessKey"])')
# One key pair on each side, so DescribeKeyPairs returns something and CreateTags has a target.
declare -A key_id
for port in $kport $mport; do
  key_id[$port]=$(AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk /usr/bin/aws \
    --endpoint-url "http://127.0.0.1:$port" --region us-east-1 ec2 create-key-pair \
    --key-name bench --key-type ed25519 --query KeyPairId --output text)
done

load() {  # port body rate → json
  "$build/bin/kumo_loadgen" --port "$1" --access-key "$ak" --secret "$sk" --region us-east-1 \
    --connections 8 --seconds "$secs" --body "$2" --rate "$3"
}
field() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

echo "| action | kumod req/s | moto_server req/s | ratio | kumod p50 / p99 at half load (ms) |"
echo "|---|---|---|---|---|"
for action in DescribeRegions DescribeKeyPairs CreateTags; do
  body="Action=$action&Version=2016-11-15"
  # CreateTags is a durable write: one transaction and one fsync (synchronous=FULL) per request.
  tags() { echo "$body&ResourceId.1=${key_id[$1]}&Tag.1.Key=bench&Tag.1.Value=x"; }
  k=(); m=(); p50=(); p99=()
  for _ in 1 2 3; do
    if [ "$action" = CreateTags ]; then kb=$(tags "$kport"); mb=$(tags "$mport"); else kb=$body; mb=$body; fi
    k+=("$(load "$kport" "$kb" 0 | field rps)")
    m+=("$(load "$mport" "$mb" 0 | field rps)")
  done
  kmax=$(printf '%s\n' "${k[@]}" | median)
  mmax=$(printf '%s\n' "${m[@]}" | median)
  half=$(/usr/bin/python3 -c "print(int($kmax / 2))")
  for _ in 1 2 3; do
    out=$(load "$kport" "$kb" "$half")
    p50+=("$(echo "$out" | field p50_ms)")
    p99+=("$(echo "$out" | field p99_ms)")
  done
  printf '| %s | %.0f | %.0f | %.0f× | %.2f / %.2f (at %s req/s) |\n' "$action" "$kmax" "$mmax" \
    "$(/usr/bin/python3 -c "print($kmax / $mmax)")" \
    "$(printf '%s\n' "${p50[@]}" | median)" "$(printf '%s\n' "${p99[@]}" | median)" "$half"
done
