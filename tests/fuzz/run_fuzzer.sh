#!/usr/bin/env bash
# run_fuzzer.sh FUZZER CORPUS_DIR SECONDS ARTIFACT_DIR
# Runs one libFuzzer target for a bounded time on a copy of the committed
# corpus (the repository never grows), with memory and per-input time
# limits. A crash, leak, UB report, timeout or out-of-memory fails the test
# and leaves the input in ARTIFACT_DIR (add it to the corpus once fixed).
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3 artifacts=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$corpus" "$work/corpus"
mkdir -p "$artifacts"
name=$(basename "$fuzzer")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# -max_len covers the largest seed; -timeout is per input, -rss_limit_mb and
# -malloc_limit_mb bound memory (a 2-core, shared CI machine).
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=512 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
    "$work/corpus" 2>"$work/log" || {
    rc=$?
    tail -n 60 "$work/log"
    echo "run_fuzzer: $name failed (exit $rc); input saved under $artifacts/" >&2
    exit "$rc"
}
grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+.*DONE)' "$work/log" || true
echo "run_fuzzer: $name ran ${seconds}s without a finding"
