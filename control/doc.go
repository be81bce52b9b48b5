// Package control implements the easlocal commands that drive a service
// running in another process: ps, endpoints, events, update/restart and
// down through the
// control API's Driver (package admin), and `up -d`, which starts a
// background copy of easlocal and waits until the service is ready. Each
// command is a function taking a Driver or an options struct and the
// io.Writers to print to; cmd/easlocal maps the command line onto them and
// errors onto exit codes.
//
//   - status.go: ps and endpoints, as tables or JSON.
//   - faults.go: fault, fault list, fault clear (and ps's fault lines).
//   - events.go: events, listed or followed.
//   - down.go: down, with the wait until the service is gone.
//   - update.go: update and restart, printing each step until the
//     rolling update completes or pauses; the update lines of ps.
//   - detach.go: up -d: it takes the service's lock (admin.Lock) and hands
//     it to the background copy, which holds it for the service's life.
package control
