#!/bin/sh
# bench_match.sh - the matching benchmark of issue 4 at 10k, 100k and 1M rules.
#
# Usage: tests/bench/bench_match.sh [BENCH_MATCH_BINARY]
#   (default: build/tests/bench_match; build it with
#    `cmake --build BUILD --target bench_match`)
# Each size runs newsalert's index, its naive mode and one PCRE2 regex per
# rule on a sample (extrapolated), and Hyperscan's literal scan when built
# with libhyperscan-dev.  One core: the program is single-threaded; pin it
# with taskset when the machine is shared.  The index's rate is the best of
# 3 warm passes (--passes): on a shared machine the others were slowed by
# other processes.
set -eu
bin=${1:-build/tests/bench_match}
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 1"
$pin "$bin" --rules 10000 --items 20000 --sample 20 --passes 3
$pin "$bin" --rules 100000 --items 20000 --sample 10 --passes 3
$pin "$bin" --rules 1000000 --items 20000 --sample 3 --no-pcre --passes 3
