#!/bin/sh
# Compare what two easlocal binaries cost to start N instances: PAIRS
# pairs of `up -d -n N` of the bench's scale service (startup, readiness
# and liveness http_get probes, period 1 s), the two binaries in turn and
# the order alternated per pair. For each run it prints the machine's
# busy CPU seconds (user, nice, system, irq, softirq from /proc/stat) from
# just before `up -d` until it returned with all N ready, the seconds
# `up -d` took, and the seconds from `up -d` to the last Started event.
# Needs root and the example image loaded. See docs/benchmarks.md.
#
#   scripts/start-cpu-pairs.sh OLD_BIN NEW_BIN     # PAIRS=8 N=50
set -eu
[ $# -eq 2 ] || { echo "usage: $0 OLD_BIN NEW_BIN" >&2; exit 2; }
PAIRS=${PAIRS:-8}
N=${N:-50}
name=bench_sc$N
dir=$(mktemp -d)
trap 'for b in "$1" "$2"; do "$b" down "$name" >/dev/null 2>&1 || true; done; rm -rf "$dir"' EXIT INT TERM
mkdir -p "$dir/$name"
"$(dirname "$0")/bench-service.sh" "$name" "$N" > "$dir/$name/service.json"
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
hz=$(getconf CLK_TCK)
run() {
	b0=$(busy); t0=$(date +%s.%N)
	"$1" up -d --listen 127.0.0.1:0 "$dir/$name/service.json" >/dev/null
	t1=$(date +%s.%N); b1=$(busy)
	last=$("$1" events "$name" | awk '$3=="Started"{s=$1} END{print s}')
	ls=$(date -d "$(date +%F) $last" +%s.%N)
	awk -v bin="$1" -v b="$((b1 - b0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v ls="$ls" \
		'BEGIN{printf "%s busy_s=%.2f up_s=%.2f laststart_s=%.2f\n", bin, b/hz, t1-t0, ls-t0}'
	"$1" down "$name" >/dev/null
	sleep 3
}
i=1
while [ "$i" -le "$PAIRS" ]; do
	if [ $((i % 2)) -eq 1 ]; then run "$1"; run "$2"; else run "$2"; run "$1"; fi
	i=$((i + 1))
done
