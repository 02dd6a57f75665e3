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

# One sanitizer build serves both the unit tests and the fuzzers: clang with ASan+UBSan and
# libFuzzer's coverage (-fsanitize=fuzzer-no-link is inert in the test binaries). It compiles
# about half of what a GCC ASan build plus a separate fuzz build did.
fuzz_targets=$(cd fuzz && ls *_fuzz.cc | sed 's/\.cc$//')
if command -v clang++ >/dev/null; then
  step "unit tests under ASan+UBSan (clang)"
  CC=clang CXX=clang++ cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DKUMO_SANITIZE=ON -DKUMO_FUZZ=ON -DKUMO_TESTS=ON -DKUMO_BENCH=OFF >/dev/null
  ninja -C build-san kumo_unit_tests $fuzz_targets
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-san --output-on-failure -j "$jobs"

  step "fuzzers (a few seconds each)"
  for t in $fuzz_targets; do
    corpus=$(mktemp -d)
    cp -r "fuzz/corpus/${t%_fuzz}/." "$corpus/"
    build-san/bin/$t -max_total_time=${KUMO_FUZZ_SECONDS:-10} -max_len=65536 "$corpus" 2>&1 | tail -n 2
    rm -rf "$corpus"
  done
else
  step "unit tests under ASan+UBSan (gcc; clang++ not found, fuzzers skipped)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKUMO_SANITIZE=ON -DKUMO_BENCH=OFF >/dev/null
  ninja -C build-asan kumo_unit_tests
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi

step "formatting (clang-format, Google base)"
git ls-files 'src/*.cc' 'src/*.h' 'fuzz/*.cc' 'bench/*.cc' | xargs clang-format --dry-run --Werror

step "EC2 model and coverage table match botocore"
/usr/bin/python3 tools/gen_ec2_model.py --check

step "end-to-end tests"
KUMO_BIN_DIR="$root/build/bin" KUMO_IMAGE_DIR=/var/lib/kumo/images \
  /usr/bin/python3 -m pytest tests/ -q -p no:cacheprovider
