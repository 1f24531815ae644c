#!/bin/sh
# run_fuzz.sh - run a fuzz target (fuzz_feed, fuzz_html, fuzz_item) for a bounded time.
#
# Usage: tests/fuzz/run_fuzz.sh FUZZER SECONDS [WORKDIR]
#
# Seeds: the feedparser conformance corpus (../shared/conformance/feedparser
# beside the project; skipped when absent), tests/data/feeds and the
# regression inputs in tests/fuzz/regressions; for fuzz_item, the packed and
# JSON items in tests/fuzz/seeds-item, the regressions and the item.dict
# dictionary instead.  New corpus entries and any
# crashing input go to WORKDIR (default: a directory beside FUZZER).  Exits
# non-zero when libFuzzer finds a crash, a leak, a sanitizer report, an
# input slower than 5 s or memory above 2 GB.
set -eu

die() {
    echo "run_fuzz: $*" >&2
    exit 2
}

[ $# -ge 2 ] || die "usage: run_fuzz.sh FUZZER SECONDS [WORKDIR]"
fuzzer=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
work=${3:-$(dirname "$fuzzer")/fuzz-work}
[ -x "$fuzzer" ] || die "no fuzz target at $fuzzer (build with -DNEWSALERT_FUZZ=ON)"

mkdir -p "$work/corpus" "$work/artifacts"
case $(basename "$fuzzer") in
fuzz_item)
    # hand-off items, packed and JSON: no feed corpus
    seeds="$here/seeds-item $here/regressions"
    dict=$here/item.dict
    ;;
*)
    seeds="$src/tests/data/feeds $here/regressions"
    dict=$here/feed.dict
    conformance="$src/../shared/conformance/feedparser/corpus"
    if [ -d "$conformance" ]; then
        seeds="$seeds $conformance"
    else
        echo "run_fuzz: no conformance corpus at $conformance: seeding from the project only" >&2
    fi
    ;;
esac

# shellcheck disable=SC2086 # $seeds is a list of directories
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=5 \
    -max_len=65536 -print_final_stats=1 -dict="$dict" \
    -artifact_prefix="$work/artifacts/" "$work/corpus" $seeds
