#!/usr/bin/env bash
# The README's second command and all that .ci/run does: installs what the tests need, builds,
# and runs every test — unit tests (also under ASan+UBSan), the fuzzers briefly, the API model
# check, and the end-to-end suite against real daemons with the aws CLI v2 and boto3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
scripts/deps.sh

step "build (RelWithDebInfo)"
KUMO_BUILD_DIR=build scripts/build.sh

step "host integration (libnss_kumo)"
scripts/install-host.sh build

step "default image (mmdebstrap, built once into /var/lib/kumo/images)"
scripts/build-image.sh /var/lib/kumo/images debian-12

step "unit tests"
ctest --test-dir build --output-on-failure -j "$jobs"

step "unit tests under ASan+UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKUMO_SANITIZE=ON -DKUMO_BENCH=OFF >/dev/null
ninja -C build-asan kumo_unit_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

step "fuzzers (clang, a few seconds each)"
if command -v clang++ >/dev/null; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DKUMO_FUZZ=ON -DKUMO_TESTS=OFF -DKUMO_BENCH=OFF >/dev/null
  targets=$(cd fuzz && ls *_fuzz.cc | sed 's/\.cc$//')
  ninja -C build-fuzz $targets
  for t in $targets; do
    corpus=$(mktemp -d)
    cp -r "fuzz/corpus/${t%_fuzz}/." "$corpus/"
    build-fuzz/bin/$t -max_total_time=${KUMO_FUZZ_SECONDS:-10} -max_len=65536 "$corpus" 2>&1 | tail -n 2
    rm -rf "$corpus"
  done
else
  echo "clang++ not found: fuzzers skipped"
fi

step "formatting (clang-format, Google base)"
git ls-files 'src/*.cc' 'src/*.h' 'fuzz/*.cc' 'bench/*.cc' | xargs clang-format --dry-run --Werror

step "EC2 model and coverage table match botocore"
/usr/bin/python3 tools/gen_ec2_model.py --check

step "end-to-end tests"
KUMO_BIN_DIR="$root/build/bin" KUMO_IMAGE_DIR=/var/lib/kumo/images \
  /usr/bin/python3 -m pytest tests/ -q -p no:cacheprovider
