#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test: unit, bpf
# (BPF_PROG_TEST_RUN) and integration (network namespaces + real nmap).
# Then the hardening stage: an ASan + UBSan build with clang (build-asan)
# runs the unit, bpf and replay tests again, and each libFuzzer target for
# SCANWATCH_FUZZ_SECONDS (default 15) on its committed corpus.
# Run as root. Extra arguments go to the first ctest (e.g. -L unit).
# SCANWATCH_SKIP_ASAN=1 skips the hardening stage.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
labels='unit|bpf|replay|fuzz'
if [ "$(id -u)" != 0 ]; then
  echo "test.sh: not root: running only the unit tests (bpf and integration need root)" >&2
  set -- -L unit "$@"
  labels='unit|fuzz'
fi
(cd build && ctest --output-on-failure "$@")

if [ "${SCANWATCH_SKIP_ASAN:-0}" = 1 ]; then
  exit 0
fi
t0=$SECONDS
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSCANWATCH_SANITIZE=ON -DSCANWATCH_FUZZ=ON \
  -DSCANWATCH_FUZZ_SECONDS="${SCANWATCH_FUZZ_SECONDS:-15}" >/dev/null
cmake --build build-asan
t1=$SECONDS
# Any report fails the test: UBSan aborts (no recovery), ASan and
# LeakSanitizer exit non-zero.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build-asan && ctest --output-on-failure -L "$labels")
echo "test.sh: sanitizer build $((t1 - t0)) s, sanitizer tests and fuzzers $((SECONDS - t1)) s"
