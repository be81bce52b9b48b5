// Command easlocal runs a PAI-EAS custom-image service locally: N instances
// on containerd, kubelet-faithful probes and an EAS-style gateway.
//
// This package is the command line only: flags, help text and examples,
// the mapping of flags onto the options of the package that does the
// work, and of errors onto exit codes (0 ok, 1 failure, 2 usage error,
// internal/usage, or the status `run`'s command chose). The work is done
// by package serve (a service run in this process: up, run, test),
// package control (a service run by another process: up -d, ps, events,
// fault, update, down, ...), package setup (doctor, load, images,
// validate, export k8s, version) and package completion. It owns:
//   - main.go: the urfave/cli app; each command file registers its
//     commands in init() by appending to `commands`.
//   - up.go: the flags of up (foreground and -d), run and test.
//   - ctl.go: the flags of the commands that talk to a running service's
//     control API (ps, endpoints, events, logs, kill, pause, unpause,
//     scale, down, advise), and the reading of flags written after their
//     arguments; fault.go and update.go the same for fault and
//     update/restart.
//   - setup.go, validate.go: the commands of package setup;
//     runtimeflags.go the flags of every command that talks to containerd.
//   - completion.go: `completion bash|zsh|fish` and each command's
//     completion (package completion).
//
// Every command has a Category, a Description with examples and
// one-word flag placeholders; help_test.go checks them.
package main
