#!/bin/bash
# Checks what each target of compare.sh passes on, against the upstreams'
# check paths: routing, the token, X-Real-IP and X-Forwarded-For, bodies
# both ways (3 MB up, 4 MB down, read slowly), HEAD, keep-alive.
# TARGETS picks a subset. Run from tools/. Exits non-zero on a failure.
set -u
targets=(${TARGETS:-loop front nethttp fastadapt fasthttp epoll})
go build -o /tmp/gwalone ./gwalone || exit 1
dir=$(mktemp -d)
/tmp/gwalone -upstreams & ups=$!
trap 'kill $ups 2>/dev/null; rm -rf "$dir"' EXIT
sleep 0.5
head -c 3000000 /dev/urandom > "$dir/up.bin"
want_sum="3000000 $(sha256sum < "$dir/up.bin" | cut -d' ' -f1)"
want_big=$(curl -s http://127.0.0.1:18901/big | sha256sum)
fails=0
check() { # name, want, got
  if [ "$2" = "$3" ]; then echo "ok   $target: $1"; else echo "FAIL $target: $1: want [$2], got [$3]"; fails=$((fails + 1)); fi
}
for target in "${targets[@]}"; do
  /tmp/gwalone -server "$target" -token tok & pid=$!
  sleep 0.5
  u=http://127.0.0.1:18999/api/predict/svc
  a='Authorization: tok'
  check "GET" "200 hello from the instance" "$(curl -s -w '%{http_code} ' -o "$dir/out" -H "$a" $u/x; cat "$dir/out" | tr -d '\n' | sed 's/^/ /' | xargs)"
  check "no token" 401 "$(curl -s -o /dev/null -w '%{http_code}' $u/x)"
  check "other service" 404 "$(curl -s -o /dev/null -w '%{http_code}' -H "$a" http://127.0.0.1:18999/api/predict/other/x)"
  check "bare service path" "hello from the instance" "$(curl -s -H "$a" http://127.0.0.1:18999/api/predict/svc)"
  echo=$(curl -s -H "$a" -H 'X-Forwarded-For: 1.2.3.4' -H 'X-Real-IP: 9.9.9.9' "$u/echo?q=1")
  check "path and query" "GET /echo?q=1" "$(echo "$echo" | head -1)"
  check "X-Forwarded-For" "X-Forwarded-For: 1.2.3.4, 127.0.0.1" "$(echo "$echo" | grep -i '^x-forwarded-for' | tr -d '\r')"
  check "X-Real-IP" "X-Real-Ip: 127.0.0.1" "$(echo "$echo" | grep -i '^x-real-ip' | tr -d '\r')"
  check "3 MB up" "$want_sum" "$(curl -s -H 'Expect:' -H "$a" --data-binary @"$dir/up.bin" $u/sum)"
  check "4 MB down, read slowly" "$want_big" "$(curl -s --limit-rate 4M -H "$a" $u/big | sha256sum)"
  check "HEAD" "200 0" "$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' -H "$a" $u/x)"
  check "keep-alive" "1 0 0" "$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' -H "$a" $u/x $u/x $u/x | xargs)"
  kill -INT $pid; wait $pid 2>/dev/null
done
[ $fails = 0 ]
