// Package session runs one service in this process: it wires the runtime,
// the prober, the scheduler, the endpoint set, the gateway and its
// sidecars, the control API (with /metrics and the dashboard) and the
// registry entry the CLI finds the service by. Start first takes the
// service's lock (admin.Lock), held until the teardown has ended, then
// brings them up in that order; Wait tears them down in reverse. It owns:
//   - session.go: Options, Start, Stop, Wait; the one events.Log that the
//     scheduler records into and the control API serves, endpoint changes
//     added to it, and its lines printed when logs are shown.
//   - controller.go: the adapter from the scheduler to admin.Controller;
//     ready.go: the not-ready report its status carries.
//   - update.go: rolling updates for the control API (admin.Updater) and
//     what the scheduler reads from a service.json to stop and replace
//     instances (grace period, SIGTERM, crash block, rolling_strategy).
//   - faults.go: the active faults (easlocal fault, easlocal test):
//     network faults through the runtime, HTTP faults through the
//     gateway's proxy.Faults, kill/pause/exit through the scheduler; each
//     timed one reverted at its end by a goroutine owning its timer, all
//     of them first thing at teardown.
//   - run.go: Exec, the command `easlocal run` runs against the service.
//   - dashboard.go: /metrics and the dashboard on the control API.
//   - prefix.go: container output as prefixed lines.
//   - advice.go: the controller's probe advice (package advise over the
//     prober's observations of the current instances) and, when logs are
//     shown, each advice at risk printed once as it appears.
package session
