#!/usr/bin/env bash
# The test command: install what is missing, build, and run the whole test
# suite twice: a normal build (build/, where the unit tests also run under
# valgrind memcheck) and an AddressSanitizer + UndefinedBehaviorSanitizer
# build (build-asan/).  .ci/run calls exactly this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$root/deploy/install-deps.sh" --test

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNEWSALERT_VALGRIND=ON
cmake --build "$root/build" -j"$jobs"
(cd "$root/build" && ctest --output-on-failure -j"$jobs")

cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DNEWSALERT_SANITIZE=ON
cmake --build "$root/build-asan" -j"$jobs"
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")
