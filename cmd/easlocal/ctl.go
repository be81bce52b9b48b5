package main

// The commands that watch and break a running service through its control
// API (package admin): ps, endpoints, events, logs, kill, pause, unpause,
// scale, down. The service is found in the registry by name; the name may
// be left out when exactly one service runs.
//
// Positional rule: each command has a maximum number of arguments, the
// first of which is SERVICE. When the count equals the maximum, the first
// argument is the service; with one fewer it was left out. (`logs` has
// only optional arguments: there a single argument is the service if a
// service of that name runs, otherwise an instance.)

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strconv"
	"strings"
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
			Action:    psAction,
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
			Action:    endpointsAction,
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
			Action: func(c *cli.Context) error {
				return instanceAction(c, (*admin.Client).Pause, "paused %s of service %s: its probes will now time out")
			},
		},
		{
			Name:     "unpause",
			Category: categoryControl,
			Usage:    "thaw an instance frozen by pause",
			Description: "Example:\n" +
				"   easlocal unpause demo-2",
			ArgsUsage: "[SERVICE] INSTANCE",
			Flags:     ctlFlags(),
			Action: func(c *cli.Context) error {
				return instanceAction(c, (*admin.Client).Unpause, "unpaused %s of service %s")
			},
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
			Action:    scaleAction,
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
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	}
	commands = append(commands, ctl...)
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

// ctlArgs returns the positional arguments, applying flags written after
// them (`easlocal kill demo-1 --signal TERM`): urfave/cli v2 stops parsing
// flags at the first argument.
func ctlArgs(c *cli.Context) ([]string, error) {
	args := c.Args().Slice()
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if _, err := strconv.Atoi(a); err == nil || len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			cli.ShowCommandHelp(c, c.Command.Name)
			return nil, exitCode(0)
		}
		fl := findFlag(c.Command.Flags, name)
		if fl == nil {
			return nil, usageError{fmt.Errorf("flag provided but not defined: %s", a)}
		}
		if _, isBool := fl.(*cli.BoolFlag); isBool {
			if !hasVal {
				val = "true"
			}
		} else if !hasVal {
			if i+1 >= len(args) {
				return nil, usageError{fmt.Errorf("flag needs an argument: %s", a)}
			}
			i++
			val = args[i]
		}
		// Every alias has its own value in the flag set: set them all.
		for _, n := range fl.Names() {
			if err := c.Set(n, val); err != nil {
				return nil, usageError{fmt.Errorf("invalid value %q for flag %s: %w", val, a, err)}
			}
		}
	}
	return pos, nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// target resolves the service and returns the arguments after it, for a
// command taking [SERVICE] plus want more arguments (see the rule above).
func target(c *cli.Context, want int, names string) (*admin.Driver, []string, error) {
	args, err := ctlArgs(c)
	if err != nil {
		return nil, nil, err
	}
	if len(args) < want || len(args) > want+1 {
		return nil, nil, usageError{fmt.Errorf("usage: easlocal %s %s", c.Command.Name, names)}
	}
	name := ""
	if len(args) == want+1 {
		name, args = args[0], args[1:]
	}
	d, err := admin.Find(registry(c), name)
	return d, args, err
}

func registry(c *cli.Context) admin.Registry {
	return admin.Registry{Dir: c.String("registry-dir")}
}

func psAction(c *cli.Context) error {
	d, _, err := target(c, 0, "[SERVICE]")
	if err != nil {
		return err
	}
	return control.Ps(c.Context, d, c.Bool("json"), c.App.Writer)
}

func endpointsAction(c *cli.Context) error {
	d, _, err := target(c, 0, "[SERVICE]")
	if err != nil {
		return err
	}
	return control.Endpoints(c.Context, d, c.Bool("json"), c.App.Writer)
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
	if len(args) > 2 {
		return usageError{errors.New("usage: easlocal logs [SERVICE] [INSTANCE]")}
	}
	reg := registry(c)
	name, instance := "", ""
	switch len(args) {
	case 2:
		name, instance = args[0], args[1]
	case 1:
		// A registered service's name (running or crashed: Find then says
		// which), or else an instance of the only one.
		if _, err := reg.Get(args[0]); err == nil {
			name = args[0]
		} else {
			instance = args[0]
		}
	}
	d, err := admin.Find(reg, name)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = d.Logs(ctx, admin.LogsOptions{Instance: instance, Container: c.String("container"), Follow: c.Bool("follow")}, c.App.Writer)
	var gone *admin.GoneError
	if errors.As(err, &gone) {
		fmt.Fprintln(c.App.ErrWriter, gone)
		return nil
	}
	return err
}

func killAction(c *cli.Context) error {
	d, args, err := target(c, 1, "[SERVICE] INSTANCE [--signal SIG]")
	if err != nil {
		return err
	}
	sig, _, err := admin.ParseSignal(c.String("signal"))
	if err != nil {
		return usageError{fmt.Errorf("--signal: %w", err)}
	}
	if err := d.Kill(c.Context, args[0], sig); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "sent %s to %s of service %s\n", sig, args[0], d.Entry.Name)
	return nil
}

func instanceAction(c *cli.Context, act func(*admin.Client, context.Context, string) error, done string) error {
	d, args, err := target(c, 1, "[SERVICE] INSTANCE")
	if err != nil {
		return err
	}
	if err := act(d.Client, c.Context, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, done+"\n", args[0], d.Entry.Name)
	return nil
}

func scaleAction(c *cli.Context) error {
	d, args, err := target(c, 1, "[SERVICE] N")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return usageError{fmt.Errorf("scale: %q is not a number of instances; use a whole number, 0 or more", args[0])}
	}
	st, err := d.Status(c.Context)
	if err != nil {
		return err
	}
	if err := d.Scale(c.Context, n); err != nil {
		return err
	}
	name := d.Entry.Name
	fmt.Fprintf(c.App.Writer, "scaling service %s from %d to %d instances; watch with `easlocal ps %s`\n", name, st.Desired, n, name)
	return nil
}

// downAction asks the service to stop and waits until its process has
// unregistered or exited. A service whose easlocal ended without
// stopping it (killed, crashed) is cleaned up here instead, holding the
// service's lock so no `up` of it starts meanwhile.
func downAction(c *cli.Context) error {
	args, err := ctlArgs(c)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usageError{errors.New("usage: easlocal down [SERVICE]")}
	}
	reg := registry(c)
	name := ""
	if len(args) == 1 {
		name = args[0]
	} else if name, err = onlyService(reg); err != nil {
		return err
	}
	e, err := reg.Get(name)
	if err == nil && e.Running() {
		err := control.Down(c.Context, admin.NewDriver(reg, e), c.Duration("timeout"), c.App.Writer)
		if !errors.Is(err, admin.ErrGone) {
			if err != nil {
				return err
			}
			// It ended without unregistering (killed during its teardown):
			// finish the cleanup.
			if after, gerr := reg.Get(name); gerr == nil && !after.Running() {
				if _, err := cleanupLeftovers(c, reg, name); err != nil {
					return err
				}
			}
			return nil
		}
		// It ended between the look and the request: clean up after it.
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	removed, err := cleanupLeftovers(c, reg, name)
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("service %s is not running and left nothing behind", name)
	}
	fmt.Fprintf(c.App.Writer, "service %s was not running; removed what an earlier run left behind\n", name)
	return nil
}

// onlyService is the service `down` without a name means: the one
// registered, running or not. With several it asks for a name, listing
// each, so a crashed one is never mistaken for a running one.
func onlyService(reg admin.Registry) (string, error) {
	all, err := reg.Entries()
	if err != nil {
		return "", err
	}
	switch len(all) {
	case 0:
		return "", admin.ErrNoService
	case 1:
		return all[0].Name, nil
	}
	var list []string
	for _, e := range all {
		state := "running"
		if !e.Running() {
			state = fmt.Sprintf("not running: its easlocal, pid %d, ended without stopping it", e.PID)
		}
		list = append(list, fmt.Sprintf("%s (%s)", e.Name, state))
	}
	return "", usageError{fmt.Errorf("several easlocal services are registered: %s; name the one to stop, e.g. `easlocal down %s`",
		strings.Join(list, ", "), all[0].Name)}
}

// cleanupLeftovers removes what a crashed easlocal left of service:
// containers, snapshots, network namespaces, IP leases and its registry
// entry. It holds the service's lock meanwhile; while an `up` of the
// service holds it, it fails at once saying so.
func cleanupLeftovers(c *cli.Context, reg admin.Registry, name string) (removed bool, err error) {
	lock, err := reg.TryLock(name, admin.LockDown)
	if err != nil {
		return false, err
	}
	defer lock.Remove()
	// Under the lock no easlocal serves the service; an entry that now
	// looks running names a process that took the name without the lock.
	e, gerr := reg.Get(name)
	if gerr == nil && e.Running() {
		return false, fmt.Errorf("service %s is running again (pid %d); run `easlocal down %s` again", name, e.PID, name)
	}
	rt, err := newRuntime(c)
	if err != nil {
		return false, err
	}
	defer rt.Close()
	left, err := rt.Leftovers(c.Context, name)
	if err != nil {
		return false, err
	}
	if !left.Empty() {
		if err := rt.Cleanup(c.Context, name); err != nil {
			return false, fmt.Errorf("cannot remove what service %s left behind: %w", name, err)
		}
	}
	if gerr == nil {
		if err := reg.Remove(name); err != nil {
			return false, err
		}
	}
	return !left.Empty(), nil
}
