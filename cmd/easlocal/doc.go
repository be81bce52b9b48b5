// Command easlocal runs a PAI-EAS custom-image service locally: N instances
// on containerd, kubelet-faithful probes and an EAS-style gateway.
//
// This package only reads the command line into options, hands them to
// package session (a service run in this process: up, run), package
// control (a service run by another process: up -d, ps, events, down, ...)
// or admin.Driver (logs), and maps errors to exit codes (0 ok, 1 failure,
// 2 usage error, or the status `run`'s command chose). It owns:
//   - main.go: the urfave/cli app; each command file registers its
//     commands in init() by appending to `commands`.
//   - up.go: the flags of `up` (foreground), `up -d` and `run` (up, run a
//     command, tear down).
//   - ctl.go: the flags and positional arguments of the commands that talk
//     to a running service's control API (ps, endpoints, events, logs,
//     kill, pause, unpause, scale, down).
//   - advise.go: `easlocal advise`, the control API's probe advice printed.
//   - export.go: `easlocal export k8s`, flags for package k8sexport.
//   - adminlisten.go: --admin-listen of up and run, the control API's
//     address (loopback unless the user writes another, with a warning).
//   - completion.go: `completion bash|zsh|fish` and the completion of
//     running service and instance names.
//   - log.go: zerolog from the global flags; colour only on a terminal and
//     without NO_COLOR.
//   - test.go: `easlocal test`, the flags of up plus --junit and --json,
//     handed to scenario.Run.
//   - validate.go, load.go, images.go, doctor.go, version.go (the commit
//     from -ldflags or the VCS stamp).
//
// Every command has a Category, a Description with examples and
// one-word flag placeholders; help_test.go checks them.
package main
