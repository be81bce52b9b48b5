#!/bin/sh
# Profile the real easlocal while its gateway is under load: 3 instances of
# the example (examples/demo/service.json, renamed bench_pf), wrk with 16
# connections through the gateway, `perf record -g` on the easlocal process
# for DUR seconds, then the Go functions with the most inclusive time.
# Needs root, perf, wrk, $BIN and the example image loaded. See
# docs/benchmarks.md for what it showed.
#
#   scripts/bench-perf.sh            # BIN=bin/easlocal PORT=19280 DUR=10 TOP=40
set -eu
BIN=${BIN:-bin/easlocal}
PORT=${PORT:-19280}
DUR=${DUR:-10}
dir=$(mktemp -d)
trap '"$BIN" down bench_pf >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT INT TERM
mkdir -p "$dir/bench_pf"
sed 's/"name": "demo"/"name": "bench_pf"/' examples/demo/service.json > "$dir/bench_pf/service.json"
"$BIN" up -d --listen "127.0.0.1:$PORT" "$dir/bench_pf/service.json"
pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' /run/easlocal/services/bench_pf.json)
wrk -t2 -c16 -d$((DUR + 4))s "http://127.0.0.1:$PORT/api/predict/bench_pf/" > "$dir/wrk.txt" &
sleep 2
perf record -F 499 -g -p "$pid" -o "$dir/perf.data" -- sleep "$DUR" 2>/dev/null
wait
cat "$dir/wrk.txt"
echo "easlocal (pid $pid), inclusive time of its Go functions:"
perf report -i "$dir/perf.data" --stdio --children --sort symbol 2>/dev/null | grep -E '^ +[0-9]' | grep -v '\[k\]' | head -"${TOP:-40}"
