#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test: unit, bpf
# (BPF_PROG_TEST_RUN) and integration (network namespaces + real nmap).
# Run as root. Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
if [ "$(id -u)" != 0 ]; then
  echo "test.sh: not root: running only the unit tests (bpf and integration need root)" >&2
  set -- -L unit "$@"
fi
cd build
ctest --output-on-failure "$@"
