// Command bench is easlocal's benchmark harness (`make bench`; results
// and method in docs/benchmarks.md). It drives the real binary
// (bin/easlocal: up -d, ps/endpoints/events --json, kill, pause, down)
// against the example image and measures:
//
//   - gateway: the same 3 instances reached directly (client-side round
//     robin over the instance IPs), through the easlocal gateway and
//     through nginx (a round-robin upstream with keep-alive, configured in
//     a temporary directory and run on a loopback port), with one
//     closed-loop load generator (internal/loadgen) at 16 clients and at 1,
//     several rounds with the order of the targets rotated; medians and
//     per-round ratios;
//   - failover: steady load through the gateway while one instance is made
//     unready, fails its liveness probe, is paused and is killed: failed
//     requests and the time from the fault to its EndpointRemoved event;
//   - scale: time from `easlocal up` to the N-th EndpointAdded event for 1,
//     10 and 50 instances, and easlocal's CPU (utime+stime from
//     /proc/<pid>/stat) and RSS over a window with 50 instances probed
//     for liveness and readiness every second each;
//   - probes: intervals between consecutive probes of one kind to one
//     instance, timed from the probe requests themselves as they leave the
//     host on the bridge (an AF_PACKET socket on easlocal0 with kernel
//     timestamps), against period_seconds.
//
// Traffic goes only to 127.0.0.1 and to the instance IPs easlocal reports.
// Every service it starts is taken down again (also on Ctrl-C and on
// failure), nginx is stopped, and each phase has a time bound.
//
//	cd tools && go run ./bench -easlocal ../bin/easlocal -out ../bin/bench [-only gateway,failover,scale] [-rounds 5]
//
// tools/ is a module of its own (so `go install ./...` at the repository
// root installs only easlocal); run it from there.
//
// Probe timing runs inside the gateway phase (3 instances at rest) and the
// scale phase (the largest N). When wrk is installed the gateway phase also
// measures the gateway/nginx ratio with it. -easlocal-env KEY=VALUE adds to
// easlocal's environment only (e.g. GOMAXPROCS=1), not the generator's.
//
// It needs root (like easlocal), nginx on PATH and the example image loaded
// (`easlocal load bin/example-image.tar`). The results are printed as
// Markdown tables and written to <out>/results.md and <out>/results.json.
package main
