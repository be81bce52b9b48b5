package main

// The commands that watch and break a running service through its control
// API (package admin): ps, endpoints, events, logs, kill, pause, unpause,
// scale, down, advise. Package control reads their positional arguments (the
// service may be left out when exactly one runs) and does the work.

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/control"
	"github.com/urfave/cli/v2"
)

func init() {
	ctl := []*cli.Command{
		{
			Name:     "ps",
			Category: categoryControl,
			Usage:    "list the instances of a running service and their containers",
			Description: "Shows each instance's IP, state, readiness, restarts, and per container the\n" +
				"last probe results and the last exit. SERVICE may be left out when one service runs.\n\n" +
				"Examples:\n" +
				"   easlocal ps\n" +
				"   easlocal ps demo --json | jq '.instances[] | {name, ready}'",
			ArgsUsage: "[SERVICE]",
			Flags:     ctlFlags(jsonFlag),
			Action:    show(control.Ps),
		},
		{
			Name:     "endpoints",
			Category: categoryControl,
			Usage:    "list the ready endpoints the gateway routes to",
			Description: "The instances the gateway sends traffic to right now: the ready ones.\n\n" +
				"Examples:\n" +
				"   easlocal endpoints\n" +
				"   easlocal endpoints demo --json",
			ArgsUsage: "[SERVICE]",
			Flags:     ctlFlags(jsonFlag),
			Action:    show(control.Endpoints),
		},
		{
			Name:     "events",
			Category: categoryControl,
			Usage:    "show what happened to a running service (probes, restarts, readiness)",
			Description: "Events as the kubelet names them: Started, Unhealthy, Killing, BackOff,\n" +
				"EndpointAdded, EndpointRemoved, ... Warnings are marked with !.\n\n" +
				"Examples:\n" +
				"   easlocal events\n" +
				"   easlocal events -f                 # keep following; Ctrl-C stops\n" +
				"   easlocal events --json -f demo     # one JSON object per line",
			ArgsUsage: "[SERVICE]",
			Flags: ctlFlags(jsonFlag,
				&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new events"}),
			Action: eventsAction,
		},
		{
			Name:     "logs",
			Category: categoryControl,
			Usage:    "print the logs of a service's instances (all of them unless INSTANCE is given)",
			Description: "With one argument, it is the service if a service of that name runs, else an\n" +
				"instance of the only running service. -f follows across restarts.\n\n" +
				"Examples:\n" +
				"   easlocal logs                      # every instance of the only service\n" +
				"   easlocal logs demo-1 -f\n" +
				"   easlocal logs demo demo-1 -c c1    # the second container: they are c0, c1, ...",
			ArgsUsage: "[SERVICE] [INSTANCE]",
			Flags: ctlFlags(
				&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new output, across restarts"},
				&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "only this `CONTAINER` (default: every container)"}),
			Action: logsAction,
		},
		{
			Name:     "kill",
			Category: categoryControl,
			Usage:    "send a signal to an instance's containers (default SIGKILL: a crash)",
			Description: "The instance is then restarted as --restart-policy of `up` says, with the\n" +
				"crash-loop back-off.\n\n" +
				"Examples:\n" +
				"   easlocal kill demo-1\n" +
				"   easlocal kill demo demo-1 --signal SIGTERM",
			ArgsUsage: "[SERVICE] INSTANCE",
			Flags: ctlFlags(
				&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "SIGKILL", Usage: "`SIGNAL` name (SIGTERM, TERM) or number"}),
			Action: killAction,
		},
		{
			Name:     "pause",
			Category: categoryControl,
			Usage:    "freeze an instance: its probes time out and it leaves the rotation",
			Description: "The container's processes are frozen (cgroup freezer), as a hung process\n" +
				"would be; undo with unpause.\n\n" +
				"Example:\n" +
				"   easlocal pause demo-2 && sleep 10 && easlocal unpause demo-2",
			ArgsUsage: "[SERVICE] INSTANCE",
			Flags:     ctlFlags(),
			Action:    oneArg("[SERVICE] INSTANCE", control.Pause),
		},
		{
			Name:     "unpause",
			Category: categoryControl,
			Usage:    "thaw an instance frozen by pause",
			Description: "Example:\n" +
				"   easlocal unpause demo-2",
			ArgsUsage: "[SERVICE] INSTANCE",
			Flags:     ctlFlags(),
			Action:    oneArg("[SERVICE] INSTANCE", control.Unpause),
		},
		{
			Name:     "scale",
			Category: categoryControl,
			Usage:    "change the number of instances of a running service",
			Description: "New instances start and are probed like the first ones; surplus ones are\n" +
				"removed from the endpoints first, then stopped.\n\n" +
				"Examples:\n" +
				"   easlocal scale 5\n" +
				"   easlocal scale demo 0",
			ArgsUsage: "[SERVICE] N",
			Flags:     ctlFlags(),
			Action:    oneArg("[SERVICE] N", control.Scale),
		},
		{
			Name:     "down",
			Category: categoryControl,
			Usage:    "stop a running service and remove its instances",
			Description: "Waits until the service's easlocal has stopped every container and removed\n" +
				"its network namespaces. When no easlocal runs the service any more (it was\n" +
				"killed), down removes what it left behind.\n\n" +
				"Examples:\n" +
				"   easlocal down\n" +
				"   easlocal down demo --timeout 5m",
			ArgsUsage: "[SERVICE]",
			Flags: append(ctlFlags(
				&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "how long to wait for the service to stop (a `DURATION` such as 30s or 5m)"}),
				runtimeFlags()...),
			Action: downAction,
		},
	}
	for _, cmd := range ctl {
		cmd.OnUsageError = onUsageError
	}
	commands = append(commands, ctl...)
}

func init() {
	commands = append(commands, &cli.Command{
		Name:      "advise",
		Category:  categoryControl,
		Usage:     "say which probe settings of a running service would fail on EAS, from what easlocal observed",
		ArgsUsage: "[SERVICE]",
		Description: "Per container: a slow start racing the liveness check, a startup_check close to\n" +
			"its limit, probe latencies close to their timeout, a missing readiness check.\n" +
			"The numbers are those of the running instances: run it after they have started\n" +
			"(and again under load). --json prints the advice and the observed numbers.\n" +
			"Advice marked ! is at risk on EAS; up prints those as they appear.\n\n" +
			"Examples:\n" +
			"   easlocal advise\n" +
			"   easlocal advise --json demo",
		Flags:        ctlFlags(jsonFlag),
		OnUsageError: onUsageError,
		Action:       show(control.Advise),
	})
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON (JSON lines for events)"}

// ctlFlags adds the hidden --registry-dir (tests, several registries).
func ctlFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{&cli.StringFlag{
		Name:    "registry-dir",
		Hidden:  true,
		EnvVars: []string{"EASLOCAL_REGISTRY_DIR"},
		Usage:   "directory of running services (default " + admin.DefaultRegistryDir + ")",
	}}, extra...)
}

// cliFlags are a command's flags as control.SplitArgs sees them.
type cliFlags struct{ c *cli.Context }

func (f cliFlags) Lookup(name string) (ok, isBool bool) { return lookup(f.c.Command.Flags)(name) }

// Set sets every alias: each has its own value in the flag set.
func (f cliFlags) Set(name, val string) error {
	for _, n := range findFlag(f.c.Command.Flags, name).Names() {
		if err := f.c.Set(n, val); err != nil {
			return err
		}
	}
	return nil
}

// lookup says whether name is one of flags, and a boolean one.
func lookup(flags []cli.Flag) func(name string) (ok, isBool bool) {
	return func(name string) (bool, bool) {
		fl := findFlag(flags, name)
		_, isBool := fl.(*cli.BoolFlag)
		return fl != nil, isBool
	}
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// ctlArgs returns the positional arguments, applying flags written after
// them (urfave/cli v2 stops parsing flags at the first argument).
func ctlArgs(c *cli.Context) ([]string, error) {
	args, err := control.SplitArgs(c.Args().Slice(), cliFlags{c})
	if errors.Is(err, control.ErrHelp) {
		cli.ShowCommandHelp(c, c.Command.Name)
		return nil, exitCode(0)
	}
	return args, err
}

// target resolves the service and returns the arguments after it, for a
// command taking [SERVICE] plus want more arguments (see control.Target).
func target(c *cli.Context, want int, names string) (*admin.Driver, []string, error) {
	args, err := ctlArgs(c)
	if err != nil {
		return nil, nil, err
	}
	return control.Target(registry(c), c.Command.Name, args, want, names)
}

func registry(c *cli.Context) admin.Registry {
	return admin.Registry{Dir: c.String("registry-dir")}
}

// show is the action of a command printing the state of [SERVICE],
// as a table or with --json.
func show(print func(context.Context, *admin.Driver, bool, io.Writer) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		d, _, err := target(c, 0, "[SERVICE]")
		if err != nil {
			return err
		}
		return print(c.Context, d, c.Bool("json"), c.App.Writer)
	}
}

// oneArg is the action of a command taking [SERVICE] ARG (names).
func oneArg(names string, act func(context.Context, *admin.Driver, string, io.Writer) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		d, args, err := target(c, 1, names)
		if err != nil {
			return err
		}
		return act(c.Context, d, args[0], c.App.Writer)
	}
}

func eventsAction(c *cli.Context) error {
	d, _, err := target(c, 0, "[SERVICE]")
	if err != nil {
		return err
	}
	ctx := c.Context
	if c.Bool("follow") {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	return control.Events(ctx, d, control.EventsOptions{JSON: c.Bool("json"), Follow: c.Bool("follow"), Out: c.App.Writer, Err: c.App.ErrWriter})
}

func logsAction(c *cli.Context) error {
	args, err := ctlArgs(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return control.Logs(ctx, registry(c), args, control.LogsOptions{Container: c.String("container"), Follow: c.Bool("follow"), Out: c.App.Writer, Err: c.App.ErrWriter})
}

func killAction(c *cli.Context) error {
	return oneArg("[SERVICE] INSTANCE [--signal SIG]", func(ctx context.Context, d *admin.Driver, instance string, w io.Writer) error {
		return control.Kill(ctx, d, instance, c.String("signal"), w)
	})(c)
}

func downAction(c *cli.Context) error {
	args, err := ctlArgs(c)
	if err != nil {
		return err
	}
	return control.Down(c.Context, control.DownOptions{Registry: registry(c), Args: args, Timeout: c.Duration("timeout"),
		Runtime: func() (control.Cleaner, error) { return newRuntime(c) }, Out: c.App.Writer})
}
