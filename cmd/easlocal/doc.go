// Command easlocal runs a PAI-EAS custom-image service locally: N instances
// on containerd, kubelet-faithful probes and an EAS-style gateway.
//
// This package only reads the command line, hands it to package session
// (one running service) or to the control API's client, and maps errors
// to exit codes (0 ok, 1 failure, 2 usage error, or the status `run`'s
// command chose). It owns:
//   - main.go: the urfave/cli app; each command file registers its
//     commands in init() by appending to `commands`.
//   - up.go: `up` (foreground), `up -d` (a background copy of itself,
//     waited on until ready) and `run` (up, run a command, tear down).
//   - ctl.go: the client commands that talk to a running service's
//     control API (ps, endpoints, events, logs, kill, pause, unpause,
//     scale, down).
//   - validate.go, load.go, images.go, doctor.go, version.go.
package main
