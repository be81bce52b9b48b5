#!/bin/sh
# Print the service.json of the bench's example service: NAME with N
# instances of the example image, with the startup, readiness and
# liveness http_get probes of tools/bench/service.go (period 1 s).
# Used by the measurement scripts beside it.
#
#   scripts/bench-service.sh NAME N > service.json
set -eu
[ $# -eq 2 ] || { echo "usage: $0 NAME N" >&2; exit 2; }
probe() { echo "{\"http_get\": {\"path\": \"/$1\", \"port\": 8000}, \"period_seconds\": 1, \"timeout_seconds\": 1, \"failure_threshold\": $2}"; }
cat <<JSON
{
  "metadata": {"name": "$1", "instance": $2},
  "containers": [{
    "image": "easlocal.local/example:latest",
    "port": 8000,
    "startup_check": $(probe startup 30),
    "health_check": $(probe ready 3),
    "liveness_check": $(probe health 3)
  }]
}
JSON
