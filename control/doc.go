// Package control implements the easlocal commands that drive a service
// running in another process: ps, endpoints, events, logs, kill, pause,
// unpause, scale, fault, advise, update/restart and down through the
// control API's Driver (package admin), and `up -d`, which starts a
// background copy of easlocal and waits until the service is ready. Each
// command is a function taking a Driver (or a Registry and the positional
// arguments) or an options struct and the io.Writers to print to;
// cmd/easlocal maps the command line onto them and errors onto exit codes
// (a usage error, internal/usage, is exit status 2).
//
//   - args.go: the positional rule (SERVICE may be left out when one
//     service runs: Target) and flags written after the arguments
//     (SplitArgs).
//   - status.go: ps and endpoints, as tables or JSON, and show, through
//     which ps, endpoints, fault list and advise fetch and print;
//     advise.go: advise.
//   - instances.go: kill, pause, unpause, scale and logs.
//   - faults.go, faultargs.go: fault (its arguments parsed), fault list,
//     fault clear (and ps's fault lines).
//   - events.go: events, listed or followed.
//   - down.go: down, with the wait until the service is gone, and the
//     cleanup after an easlocal that ended without stopping its service.
//   - update.go: update and restart, printing each step until the
//     rolling update completes or pauses; the update lines of ps.
//   - detach.go: up -d: it takes the service's lock (admin.Lock) and hands
//     it to the background copy, which holds it for the service's life
//     (InheritedLock is the copy's side), with --token kept off its
//     command line.
package control
