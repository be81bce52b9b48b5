#!/bin/bash
# Compares easlocal's server, net/http's and nginx in front of the same
# three upstreams: ROUNDS rounds (default 3), each target 1 s warm-up and
# 4 s of wrk -t2 -c16. Run from tools/. Needs wrk and nginx.
set -eu
rounds=${ROUNDS:-3}
go build -o /tmp/gwalone ./gwalone
dir=$(mktemp -d)
cat > "$dir/nginx.conf" <<CONF
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  upstream ups { server 127.0.0.1:18901; server 127.0.0.1:18902; server 127.0.0.1:18903; keepalive 64; }
  server {
    listen 127.0.0.1:18997;
    location /api/predict/svc/ {
      proxy_pass http://ups/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
CONF
/tmp/gwalone -upstreams & ups=$!
trap 'kill $ups 2>/dev/null; rm -rf "$dir"' EXIT
sleep 0.5
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for target in front nethttp nginx; do
    if [ "$target" = nginx ]; then nginx -c "$dir/nginx.conf" -p "$dir" & pid=$!; port=18997
    else /tmp/gwalone -server "$target" & pid=$!; port=18999; fi
    sleep 0.5
    url=http://127.0.0.1:$port/api/predict/svc/x
    wrk -t2 -c16 -d1s "$url" >/dev/null
    pids="$pid $(pgrep -P "$pid" || true)"
    cpu() { local t=0; for p in $pids; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
    t0=$(cpu)
    out=$(wrk -t2 -c16 -d4s --latency "$url")
    t1=$(cpu)
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    tick=$(getconf CLK_TCK)
    echo "round $round $target: $rps req/s, p99 $p99, $(awk -v c=$((t1 - t0)) -v n="$n" -v k="$tick" 'BEGIN {printf "%.1f", c / k * 1e6 / n}') µs CPU/req"
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  done
done
