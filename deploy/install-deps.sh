#!/bin/sh
# install-deps.sh - install the Debian 12 (bookworm) packages newsalert needs.
#
# Usage: deploy/install-deps.sh [--test] [--bench] [--check]
#
#   (no option)  what it takes to build and run newsalert: the C toolchain,
#                cmake, pkg-config, the -dev packages of the libraries it links
#                (ZeroMQ, libcurl, jansson, libxml2, SQLite, libstemmer,
#                utf8proc, PCRE2, OpenSSL's libcrypto: libssl-dev, which
#                libcurl4-openssl-dev only suggests; the notifier signs
#                webhooks with HMAC-SHA256), cmocka (CMake configures the unit
#                tests by default, so a plain build needs it) and
#                ca-certificates (the fetcher talks HTTPS).
#   --test       also what only the test suite uses: python3 and python3-zmq
#                (the integration tests drive the daemons over ZeroMQ) and
#                valgrind (memory checks), clang and libclang-rt-14-dev
#                (libFuzzer, for the fuzz ctest), nginx and curl (the
#                bench_fetch_smoke ctest), openssl (fetcher_http2's test
#                certificates).  Use this on CI and dev machines.
#   --bench      also what only the benchmarks under tests/bench use (the
#                comparators named in the issues).
#   --check      install nothing: list the missing packages and exit 1 if any
#                are missing, 0 if none.
#
# Only the packages that are missing (according to dpkg-query) are installed,
# with one `apt-get update` and one `apt-get install -y
# --no-install-recommends`, so a second run on a ready machine returns at once
# without touching the network.  Runs as root, or through sudo when run as
# another user and sudo exists.  Exits non-zero with a message on failure.
set -eu

prog=install-deps

die() {
    echo "$prog: $*" >&2
    exit 1
}

usage() {
    sed -n '4,23p' "$0" | sed 's/^# \{0,1\}//'
}

with_test=0
with_bench=0
check_only=0
for arg in "$@"; do
    case "$arg" in
    --test) with_test=1 ;;
    --bench) with_bench=1 ;;
    --check) check_only=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "$prog: unknown option '$arg'" >&2
        usage >&2
        exit 2
        ;;
    esac
done

packages="build-essential cmake pkg-config
libzmq3-dev libcurl4-openssl-dev libjansson-dev libcmocka-dev libxml2-dev
libsqlite3-dev libstemmer-dev libutf8proc-dev libpcre2-dev libssl-dev ca-certificates"
if [ "$with_test" -eq 1 ]; then
    packages="$packages python3 python3-zmq valgrind"
    # the parser fuzz targets (tests/fuzz): clang and its libFuzzer runtime
    packages="$packages clang libclang-rt-14-dev"
    # the bench_fetch_smoke ctest: nginx serves the feeds, curl is the
    # comparator (without them the test is skipped)
    packages="$packages nginx curl"
    # the fetcher_http2 ctest: openssl makes its throwaway CA and certificates
    packages="$packages openssl"
fi
if [ "$with_bench" -eq 1 ]; then
    packages="$packages python3 python3-zmq"
    # bench_parse: Python feedparser, the parse comparator
    packages="$packages python3-feedparser"
    # bench_fetch: nginx serves the feeds, curl is the comparator, time -v
    # measures peak memory
    packages="$packages nginx curl time"
    # bench_match: Hyperscan, the literal-scan comparator (built only when found);
    # util-linux's taskset pins the benchmark to one core
    packages="$packages libhyperscan-dev util-linux"
fi

command -v dpkg-query >/dev/null 2>&1 ||
    die "dpkg-query not found: this script is for Debian 12 (bookworm) and its derivatives"

# Print the packages of $packages that are not installed, space separated.
missing_packages() {
    out=""
    for pkg in $packages; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        if [ "$status" != "installed" ]; then
            out="$out $pkg"
        fi
    done
    echo "${out# }"
}

missing=$(missing_packages)
total=0
for pkg in $packages; do total=$((total + 1)); done
if [ -z "$missing" ]; then
    echo "$prog: all $total packages are installed"
    exit 0
fi
if [ "$check_only" -eq 1 ]; then
    echo "$prog: missing: $missing"
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    die "not root and sudo is not installed; as root run: apt-get install $missing"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: $missing"

echo "$prog: installing: $missing"
# sudo resets the environment: pass DEBIAN_FRONTEND through env(1)
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    die "apt-get update failed (network or sources.list problem?)"
# shellcheck disable=SC2086 # $missing is a word list on purpose
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing ||
    die "apt-get install failed for: $missing"

still=$(missing_packages)
[ -z "$still" ] || die "still missing after apt-get install: $still"
echo "$prog: done, all $total packages are installed"
