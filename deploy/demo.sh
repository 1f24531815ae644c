#!/usr/bin/env bash
# The demo: install what is missing, build, then run the three daemons on the
# bundled configuration (config/demo: three feed files holding the seed story
# and others, a handful of rules) and print the alerts in this terminal until
# Ctrl-C.  The daemons' logs go to config/demo/var/*.log.  The demo starts
# from a fresh state each time (config/demo/var is emptied), so it always
# shows its alerts; a real deployment keeps its state across restarts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null

bin=$root/build/services
cfg=$root/config/demo/newsalert.json
var=$root/config/demo/var
rm -rf "$var"
mkdir -p "$var"

pids=()
stop() {
    trap - INT TERM EXIT
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    echo
    echo "demo stopped; alerts kept in $var/alerts.jsonl, logs in $var/*.log"
}
trap stop INT TERM EXIT

for d in matcher notifier; do
    "$bin/$d/newsalert-$d" -c "$cfg" 2>"$var/$d.log" &
    pids+=($!)
done
sleep 1 # let the notifier's subscription reach the matcher before items flow
"$bin/fetcher/newsalert-fetcher" -c "$cfg" 2>"$var/fetcher.log" &
pids+=($!)
echo "newsalert demo: fetcher, matcher and notifier running on $cfg (Ctrl-C to stop)"
echo
wait "${pids[@]}" || true
