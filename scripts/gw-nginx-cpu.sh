#!/bin/bash
# Where the machine's CPU goes behind the gateway and behind nginx: one
# `easlocal up -d` of 3 instances of the example (the bench's probes), an
# nginx over the same instances (the bench's config), then ROUNDS rounds of
# `wrk -t2 -c16 -d5s` (after 1 s of warm-up) against each, the order
# alternated per round. For each run it prints wrk's requests per second,
# the share of the machine's time that was idle (/proc/stat), and the CPU
# per request (utime+stime from /proc) of the instances' app processes,
# their shims, easlocal and nginx, in µs. Needs root, wrk, nginx and the
# example image loaded. See docs/benchmarks.md.
#
#   scripts/gw-nginx-cpu.sh BIN [ROUNDS]     # ROUNDS=2
set -eu
[ $# -ge 1 ] || { echo "usage: $0 BIN [ROUNDS]" >&2; exit 2; }
BIN=$1
ROUNDS=${2:-2}
GW=${GW:-127.0.0.1:9311}
NGX=${NGX:-127.0.0.1:9312}
name=bench_cpu
dir=$(mktemp -d)
trap '"$BIN" down "$name" >/dev/null 2>&1 || true; [ -f "$dir/ngx/nginx.pid" ] && kill "$(cat "$dir/ngx/nginx.pid")" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
mkdir -p "$dir/$name" "$dir/ngx"
"$(dirname "$0")/bench-service.sh" "$name" 3 > "$dir/$name/service.json"
"$BIN" up -d --listen "$GW" "$dir/$name/service.json" >/dev/null
ups=$("$BIN" endpoints "$name" --json | python3 -c 'import json,sys; print(" ".join("server %s:%d;" % (e["ip"], e["port"]) for e in json.load(sys.stdin)))')
cat > "$dir/ngx/nginx.conf" <<EOF
worker_processes auto;
pid $dir/ngx/nginx.pid;
error_log $dir/ngx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/ngx/body;
    proxy_temp_path $dir/ngx/proxy;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    upstream instances { $ups keepalive 64; keepalive_requests 1000000; }
    server {
        listen $NGX;
        location / {
            proxy_pass http://instances;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
EOF
nginx -p "$dir/ngx" -c "$dir/ngx/nginx.conf"
sleep 2
hz=$(getconf CLK_TCK)
# ticks per kind of process: app, shim, easlocal, nginx
ticks() {
	for p in /proc/[0-9]*/stat; do cat "$p" 2>/dev/null || true; done | awk '{
		s = $0; i = index(s, "("); j = 0
		for (k = length(s); k > 0; k--) if (substr(s, k, 1) == ")") { j = k; break }
		comm = substr(s, i + 1, j - i - 1); split(substr(s, j + 2), f, " ")
		if (comm ~ /^containerd-shim/) comm = "shim"; else if (comm ~ /^nginx/) comm = "nginx"; else if (comm ~ /^easlocal/) comm = "easlocal"
		if (comm == "app" || comm == "shim" || comm == "easlocal" || comm == "nginx") t[comm] += f[12] + f[13]
	} END { printf "%d %d %d %d\n", t["app"], t["shim"], t["easlocal"], t["nginx"] }'
}
idle() { awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
one() {
	wrk -t2 -c16 -d1s "$2" >/dev/null
	read -r a0 s0 e0 n0 < <(ticks); read -r i0 t0 < <(idle)
	out=$(wrk -t2 -c16 -d5s "$2")
	read -r a1 s1 e1 n1 < <(ticks); read -r i1 t1 < <(idle)
	req=$(echo "$out" | awk '/requests in/{print $1}')
	rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
	awk -v w="$1" -v rps="$rps" -v r="$req" -v hz="$hz" -v idle=$((i1 - i0)) -v all=$((t1 - t0)) \
		-v a=$((a1 - a0)) -v s=$((s1 - s0)) -v e=$((e1 - e0)) -v n=$((n1 - n0)) 'BEGIN {
		u = 1e6 / hz / r
		printf "%-7s req/s %8.0f  idle %4.1f%%  app %5.1f  shims %4.1f  easlocal %4.1f  nginx %4.1f µs/req\n", w, rps, 100 * idle / all, a * u, s * u, e * u, n * u
	}'
}
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then
		one gateway "http://$GW/api/predict/$name/"; one nginx "http://$NGX/"
	else
		one nginx "http://$NGX/"; one gateway "http://$GW/api/predict/$name/"
	fi
done
