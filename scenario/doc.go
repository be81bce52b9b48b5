// Package scenario runs failover scenarios as tests (`easlocal test`): a
// YAML file names a service, the load to drive through it, faults on a
// schedule and the expectations; Run brings the service up, drives the
// load, injects the faults, samples the service, checks the expectations,
// tears down (always: faults reverted, service stopped) and reports. The
// format is documented in the README with examples in examples/scenarios.
//
// It owns:
//   - format.go, parse.go: the Scenario model and its parser. The file is
//     decoded into yaml.Node (go.yaml.in/yaml/v3) and walked by hand, so
//     every Diagnostic names the line and the field and says how to fix
//     it; every problem of a file is reported at once, in a *FileError
//     (the CLI's exit status 2). Service files are resolved against the
//     scenario file's directory and validated too.
//   - execute.go: one run against a service that is up and ready. The
//     schedule (schedule) orders fault starts and timed ends; execute's
//     goroutine owns the measurement: it fires the schedule's actions,
//     samples status, endpoints and new events every 250ms and receives
//     the load's records when the load ends; then it waits, with a
//     recovery expectation, until every instance is ready again after the
//     last fault or the time for that has passed. The load runs in one
//     goroutine of its own. FaultInjector, Observer and Loader are its
//     dependencies, so the timing is tested in a synctest bubble against
//     a fake service (execute_test.go).
//   - analyze.go: the phases (before the first fault, during and after
//     each), the statistics of a set of requests and the checks.
//   - env.go: the real dependencies: every fault kind through the
//     service's faults API (admin.Client.InjectFault, without a duration:
//     the runner clears each at its end, and ClearFaults on teardown),
//     the load through the gateway or, in direct mode, round robin over
//     the ready endpoints refreshed every second (internal/loadgen).
//   - run.go: Run, each scenario against a fresh service started with
//     session.Start (the flags of `up` in Options.Up, the scenario's own
//     settings on top) and found with admin.Find.
//   - result.go, report.go: the Result (timeline per second, bursts of
//     failures with the events around them) and the text, JSON and JUnit
//     XML reports; testdata/junit.xsd is the schema the JUnit output is
//     checked against.
package scenario
