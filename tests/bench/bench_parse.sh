#!/bin/sh
# bench_parse.sh - build and run the parse benchmark (bench_parse.c) with
# Python feedparser beside it.
#
# Usage: tests/bench/bench_parse.sh [BUILD_DIR] [bench_parse options...]
#   BUILD_DIR defaults to build-bench (configured RelWithDebInfo if needed).
# The generated corpus goes to BUILD_DIR/bench-parse-corpus.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build-bench}
[ $# -gt 0 ] && shift
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j2 --target bench_parse >/dev/null
exec "$build/tests/bench_parse" --dir "$build/bench-parse-corpus" \
    --script "$here/bench_parse_feedparser.py" "$@"
