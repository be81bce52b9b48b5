// Command soak is easlocal's bounded soak run (`make soak`; method and
// results in docs/soak.md). It drives the real binary against the example
// image for a fixed time and checks that easlocal stays flat and loses
// nothing:
//
//   - it writes its own service.json (name soak_<pid>, 5 instances, HTTP
//     startup, readiness and liveness probes at a 1 s period) and starts
//     `easlocal up -d` with a short crash-loop back-off and stop grace;
//   - 4 closed-loop clients send GETs through the gateway (loopback only)
//     with a short pause between requests, counting every failure;
//   - on a schedule it makes one instance unready for a few seconds
//     (POST /control/ready on the instance's IP), kills one
//     (`easlocal kill`) and fails one's liveness (POST /control/live),
//     never two faults on one instance at once;
//   - every 10 s it samples easlocal's RSS (VmRSS of the pid in the
//     registry entry), go_goroutines and the restart and readiness gauges
//     from the control API's /metrics;
//   - at the end it waits for the service to settle and checks that every
//     instance is running and ready, that the restarts equal the kills
//     plus the liveness failures it caused, that memory and goroutines are
//     flat (median of the last quarter of samples against the second
//     quarter), then runs `easlocal down` and checks nothing is left
//     (a second down finds nothing, no easlocal-<name>-* netns, no shim).
//
// The service is taken down on every exit path, Ctrl-C and SIGTERM
// included. The exit status is 0 when every check passed, 1 when one
// failed, 2 when the run could not be set up.
//
//	cd tools && go run ./soak -easlocal ../bin/easlocal -duration 20m
//
// tools/ is a module of its own (so `go install ./...` at the repository
// root installs only easlocal); run it from there.
//
// Goroutines: main owns the run; the load clients, the fault scheduler
// and the sampler each run in one goroutine until the run's context ends,
// and share only atomic counters and the sample slice (the sampler's
// alone until it has returned).
package main
