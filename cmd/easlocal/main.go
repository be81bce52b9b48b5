package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/internal/logging"
	"github.com/easlocal/easlocal/internal/usage"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commands is filled by the init functions of the command files, so each
// command lives beside its own flags and no file lists them all.
var commands []*cli.Command

// exitCode carries a process exit status through urfave/cli without
// letting it call os.Exit, so deferred cleanup always runs.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Command categories of `easlocal --help`, which lists them sorted by
// name: the order a newcomer needs them in.
const (
	categoryRun     = "Run a service"
	categorySetup   = "Set up: images, checks, completion, version"
	categoryControl = "Watch and break a running service"
)

func newApp() *cli.App {
	// Copies: urfave/cli writes into a command when an app runs it (its
	// help name grows by the parent's), and tests build many apps.
	cmds := make([]*cli.Command, len(commands))
	for i, c := range commands {
		cp := *c
		cmds[i] = &cp
	}
	addCompletions(cmds)
	app := &cli.App{
		Name:  "easlocal",
		Usage: "run a PAI-EAS custom-image service locally, with probes and a gateway",
		Description: "easlocal runs an Alibaba Cloud PAI-EAS service.json on this machine the way EAS\n" +
			"runs it: instances in containerd, kubelet-style probes, a gateway. It needs root.\n\n" +
			"A first run:\n" +
			"   easlocal doctor                                # what is missing, and how to get it\n" +
			"   easlocal load bin/example-image.tar            # or any docker save / OCI archive\n" +
			"   easlocal validate examples/demo/service.json   # what easlocal would run\n" +
			"   easlocal up -d examples/demo/service.json      # returns once every instance is ready\n" +
			"   curl http://127.0.0.1:9000/api/predict/demo/\n" +
			"   easlocal ps                                    # instances, probes, restarts\n" +
			"   easlocal kill demo-1                           # a crash; watch the restart in `easlocal events`\n" +
			"   easlocal down\n\n" +
			"`easlocal COMMAND --help` shows a command's options and examples.\n" +
			"NO_COLOR=1 turns colour off; --json prints what a command shows as JSON.",
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "`LEVEL`: debug, info, warn or error (events are printed as plain lines whatever the level)"},
			&cli.StringFlag{Name: "log-format", Value: "console", Usage: "`FORMAT` of log lines: console or json"},
		},
		Before: func(c *cli.Context) error {
			return logging.Setup(c.String("log-level"), c.String("log-format"), c.App.ErrWriter)
		},
		Commands:        cmds,
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usage.Wrap(err)
		},
		CommandNotFound: func(c *cli.Context, name string) {
			c.App.Metadata[unknownCommand] = name
		},
		Metadata: map[string]any{},
	}
	return app
}

// unknownCommand is the app.Metadata key CommandNotFound records the
// name under (urfave/cli v2 gives that handler no way to fail).
const unknownCommand = "unknown-command"

// onUsageError makes a bad flag of a command a usage error (exit
// status 2); the app's OnUsageError only covers the global flags.
func onUsageError(_ *cli.Context, err error, _ bool) error { return usage.Wrap(err) }

func main() {
	os.Exit(run(os.Args))
}

// run executes the CLI and maps errors to exit codes: 0 ok, 1 failure,
// 2 usage error, or the code a command chose.
func run(args []string) int {
	app := newApp()
	return exitStatus(app, app.Run(args))
}

// exitStatus maps the error app.Run returned to the process's exit
// status, printing it first unless a command chose its own status. An
// error of the control API keeps its errdefs class (admin.APIError
// unwraps to it, e.g. errdefs.IsNotFound for an unknown instance); every
// class exits 1 like any other failure, printed as the sentence the
// service wrote.
func exitStatus(app *cli.App, err error) int {
	if name, ok := app.Metadata[unknownCommand].(string); ok {
		err = usage.Errorf("unknown command %q; see `easlocal --help` for the commands", name)
	}
	if err == nil {
		return 0
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	fmt.Fprintln(app.ErrWriter, "easlocal:", err)
	if usage.Is(err) {
		return 2
	}
	return 1
}
