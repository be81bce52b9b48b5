// Package advise turns a service's probe settings and what easlocal saw
// while running it into advice for EAS: Advise is a pure function of a
// parsed service.Service and the observed numbers per container
// (Observed), with no clock and no I/O, so every rule is table-tested.
//
// The rules follow the kubelet semantics the prober reproduces
// (prober/doc.go): a liveness probe kills the container after
// failure_threshold failures in a row, counted from its first run after
// initial_delay_seconds; a startup probe holds liveness and readiness
// back and kills after its own failure_threshold; a probe run longer
// than timeout_seconds fails. On EAS the kubelet's first probe of a
// container comes 0 to one period after its start, so a liveness check
// kills a container that has not answered within initial delay +
// (failure_threshold − 1) × period at worst and initial delay +
// failure_threshold × period at best.
//
//   - slow-start (no startup_check): the liveness check failed before
//     the app first answered it, or killed it before it ever answered:
//     the start is racing the liveness budget. Advice: a startup_check
//     with the liveness period and failure_threshold ≥ ceil(start /
//     period) + 1 (one period for the kubelet's first-probe offset).
//   - startup-budget: the startup_check used two thirds or more of the
//     failures it allows, or killed the container before it passed.
//     Advice: failure_threshold ≥ ceil(2 × start / period).
//   - latency: a probe's p99 run time (over at least MinSamples runs) is
//     half its timeout or more, or runs timed out. Advice:
//     timeout_seconds ≥ ceil(2 × p99).
//   - no-readiness: no health_check. EAS then only checks that the port
//     accepts connections and sends traffic as soon as it opens.
//
// Every advice names the container (c0, c1, ... as easlocal names them)
// and, for observed numbers, the instance they come from (the worst one).
package advise
