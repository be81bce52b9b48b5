#!/usr/bin/env bash
# Inspect or stop the private containerd easlocal starts when no system
# containerd answers (see runtime/doc.go). Usage:
#   scripts/containerd-private.sh status|stop|log|ctr ARGS...
# EASLOCAL_STATE_DIR and EASLOCAL_RUN_DIR override the default directories.
set -euo pipefail
state=${EASLOCAL_STATE_DIR:-/var/lib/easlocal}
run=${EASLOCAL_RUN_DIR:-/run/easlocal}
sock=$run/containerd/containerd.sock
pidfile=$run/containerd/containerd.pid
log=$state/containerd/containerd.log

pid() {
	[ -f "$pidfile" ] || return 1
	local p
	p=$(cat "$pidfile")
	# Only a containerd started with easlocal's config counts.
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--config $state/containerd/config.toml" || return 1
	echo "$p"
}

case "${1:-status}" in
status)
	if p=$(pid); then
		echo "easlocal's private containerd runs as pid $p at $sock (log: $log)"
	else
		echo "easlocal's private containerd is not running (easlocal starts it on first use)"
		exit 1
	fi
	;;
stop)
	if p=$(pid); then
		kill -TERM "$p"
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$p" 2>/dev/null; then echo "pid $p did not stop" >&2; exit 1; fi
		echo "stopped pid $p (containers it ran were left to their shims: run 'easlocal down' first)"
	else
		echo "not running"
	fi
	;;
log)
	exec tail -n "${2:-50}" "$log"
	;;
ctr)
	shift
	exec ctr --address "$sock" --namespace easlocal "$@"
	;;
*)
	echo "usage: $0 status|stop|log [N]|ctr ARGS..." >&2
	exit 2
	;;
esac
