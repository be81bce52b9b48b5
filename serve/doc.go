// Package serve implements the commands that run a service in this
// easlocal process until it ends, on top of package session (one
// service) and package scenario (easlocal test): what they print and
// how signals end them. cmd/easlocal maps the command line onto their
// options and their errors onto exit codes. It owns:
//   - up.go: Up, `easlocal up` in a terminal or as the background copy
//     `up -d` starts (control.Detach), and Run, `easlocal run`.
//   - test.go: Test, `easlocal test`: the scenarios, the JUnit file.
//   - signals.go: Interrupts, the first signal tears the service down,
//     the next abandons the teardown (exit status ExitAbandoned).
//   - flags.go: the values of up's flags that need reading: --mount,
//     --admin-listen, the instance count and back-off.
//   - pprof.go: EASLOCAL_PPROF, Go's profiles on a loopback address.
package serve
