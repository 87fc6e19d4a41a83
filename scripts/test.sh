#!/usr/bin/env bash
# Runs every test against the build in $1 (default build-asan): the C unit
# tests (Criterion), then the end-to-end tests (Node's test runner driving
# the real llmux and llmux-sim binaries with the official openai SDK).
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-asan}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}


echo "== format check (clang-format, .clang-format)"
clang-format --dry-run --Werror $(git ls-files '*.c' '*.h')

echo "== unit tests ($BUILD)"
failed=0
for t in "$BUILD"/test_*; do
    [ -x "$t" ] || continue
    "$t" --jobs 1 || failed=1
done
[ $failed -eq 0 ] || { echo "unit tests failed"; exit 1; }

echo "== end-to-end tests"
if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
export LLMUX_BIN="$PWD/$BUILD/llmux" LLMUX_SIM_BIN="$PWD/$BUILD/tools/sim/llmux-sim"
node --test --test-concurrency=1 tests/e2e/
