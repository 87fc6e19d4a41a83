#!/usr/bin/env bash
# Builds (unless it exists) and runs every libFuzzer target of tests/fuzz/
# for a short time each, with its corpus in tests/fuzz/corpus/<target>/.
# New inputs found are kept in a scratch corpus under the build dir, not in
# the repository; crashes are written to the build dir as crash-* files.
#
#   scripts/fuzz.sh [BUILD_DIR]        default build-fuzz
#   FUZZ_SECONDS=60 scripts/fuzz.sh    time per target (default 30)
#   FUZZ_TARGETS="fuzz_sse" scripts/fuzz.sh   a subset
#
# Exits non-zero when a target finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}

# The library is built with coverage instrumentation (fuzzer-no-link) and
# the sanitizers too, so libFuzzer sees its branches and ASan its bytes.
# (configured every time: a new target file must become a build target)
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMUX_FUZZ=ON \
    -DLLMUX_SANITIZE=ON -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target ${FUZZ_TARGETS:-fuzz_json fuzz_sse fuzz_chat fuzz_config fuzz_schema fuzz_redact fuzz_redact_chat fuzz_responses fuzz_resp_stream fuzz_reverse fuzz_callhold} >/dev/null

# full stacks on malloc so the one suppression below matches by function
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# one known leak inside libfyaml, explained in the file
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
failed=0
for target in ${FUZZ_TARGETS:-fuzz_json fuzz_sse fuzz_chat fuzz_config fuzz_schema fuzz_redact fuzz_redact_chat fuzz_responses fuzz_resp_stream fuzz_reverse fuzz_callhold}; do
    seeds="tests/fuzz/corpus/$target"
    work="$BUILD/fuzz-corpus/$target"
    mkdir -p "$work" "$BUILD/fuzz-artifacts/$target"
    echo "== $target (${SECONDS_EACH}s)"
    if ! "$BUILD/$target" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-artifacts/$target/" \
        "$work" "$seeds" 2>"$BUILD/fuzz-artifacts/$target.log"; then
        echo "$target: FAILED, see $BUILD/fuzz-artifacts/$target.log"
        tail -n 40 "$BUILD/fuzz-artifacts/$target.log"
        failed=1
    else
        grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" \
            "$BUILD/fuzz-artifacts/$target.log" | tail -n 2 || true
    fi
done
exit $failed
