#!/bin/bash
# Compares easlocal's server, net/http's, the gateway on fasthttp's server
# through fasthttpadaptor, the fasthttp and epoll stand-ins and nginx in
# front of the same three upstreams: ROUNDS rounds (default 3), the order
# of the targets rotated each round. Per target: 1 s
# warm-up, then 4 s of wrk -t2 -c16 and 4 s of wrk -t1 -c1, each with the
# target's CPU time (utime+stime from /proc) over its window. Every
# request carries the service token, which every target checks. Prints
# each measurement, then per target and client count the median (range)
# over the rounds, and the ratio to nginx in the same round. Run from
# tools/. Needs wrk and nginx. TARGETS picks a subset (nginx is needed
# for the ratios).
set -eu
rounds=${ROUNDS:-3}
targets=(${TARGETS:-loop front nethttp fastadapt fasthttp epoll nginx})
token=tok
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
      if (\$http_authorization != "$token") { return 401; }
      proxy_pass http://ups/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
CONF
/tmp/gwalone -upstreams & ups=$!
trap 'kill $ups 2>/dev/null; rm -rf "$dir"' EXIT
sleep 0.5
tick=$(getconf CLK_TCK)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  n=${#targets[@]}
  for i in $(seq 0 $((n - 1))); do
    target=${targets[$(((i + round - 1) % n))]}
    if [ "$target" = nginx ]; then nginx -c "$dir/nginx.conf" -p "$dir" & pid=$!; port=18997
    else /tmp/gwalone -server "$target" -token "$token" & pid=$!; port=18999; fi
    sleep 0.5
    url=http://127.0.0.1:$port/api/predict/svc/x
    wrk -t2 -c16 -d1s -H "Authorization: $token" "$url" >/dev/null
    pids="$pid $(pgrep -P "$pid" || true)"
    cpu() { local t=0; for p in $pids; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
    for c in 16 1; do
      t0=$(cpu)
      out=$(wrk -t$((c > 1 ? 2 : 1)) -c$c -d4s --latency -H "Authorization: $token" "$url")
      t1=$(cpu)
      if echo "$out" | grep -q Non-2xx; then echo "$target: errors: $out" >&2; exit 1; fi
      reqs=$(echo "$out" | awk '/requests in/ {print $1}')
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
      us=$(awk -v c=$((t1 - t0)) -v n="$reqs" -v k="$tick" 'BEGIN {printf "%.1f", c / k * 1e6 / n}')
      echo "round $round $target c$c: $rps req/s, p99 $p99, $us µs CPU/req (load $(cut -d' ' -f1 /proc/loadavg))"
      echo "$round $target $c $rps $us" >> "$dir/results"
    done
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  done
done
# Median (range) per target and client count; ratios to nginx's figure of
# the same round and client count.
printf "%-9s %3s  %-24s %-20s %-18s %s\n" target c req/s "µs CPU/req" "req/s / nginx" "CPU / nginx"
awk '
  function summary(v, k,   a, m, i, j, t) {
    m = split(v, a, " ")
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    t = m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    return sprintf(k, t) " (" sprintf(k, a[1]) "–" sprintf(k, a[m]) ")"
  }
  { rps[$1, $2, $3] = $4; us[$1, $2, $3] = $5; if (!(($2, $3) in seen)) { seen[$2, $3]; order[++n] = $2 SUBSEP $3 } ; last = $1 > last ? $1 : last }
  END {
    for (i = 1; i <= n; i++) {
      split(order[i], k, SUBSEP); r = ""; u = ""; rr = ""; ur = ""
      for (j = 1; j <= last; j++) if ((j, k[1], k[2]) in rps) {
        r = r " " rps[j, k[1], k[2]]; u = u " " us[j, k[1], k[2]]
        if ((j, "nginx", k[2]) in rps) { rr = rr " " rps[j, k[1], k[2]] / rps[j, "nginx", k[2]]; ur = ur " " us[j, k[1], k[2]] / us[j, "nginx", k[2]] }
      }
      printf "%-9s %3s  %-24s %-20s %-18s %s\n", k[1], k[2], summary(r, "%.0f"), summary(u, "%.1f"), rr == "" ? "-" : summary(rr, "%.2f"), ur == "" ? "-" : summary(ur, "%.2f")
    }
  }' "$dir/results" | sort -k2,2nr -k1,1
