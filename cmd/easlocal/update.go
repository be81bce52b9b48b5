package main

// `easlocal update [SERVICE] FILE` and `easlocal restart [SERVICE]`: rolling
// updates of a running service through its control API (package control
// prints the progress).

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/control"
)

func init() {
	timeout := &cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute,
		Usage: "how long a new instance may take to become ready before the update pauses, a `DURATION` (0: no limit)"}
	cmds := []*cli.Command{
		{
			Name:     "update",
			Category: categoryControl,
			Usage:    "roll a running service to a changed service.json (image, env, command, probes, ports, storage, instance count)",
			Description: "Starts up to rolling_strategy.max_surge new instances (default 2%, at least 1), waits\n" +
				"until they are ready, then stops up to max_unavailable old ones (default 0): each leaves\n" +
				"the endpoints first, then keeps running for eas.termination_grace_period. It repeats\n" +
				"until every instance is new, printing each step. A new instance that fails or is not\n" +
				"ready within --timeout pauses the update with the old instances serving, and update\n" +
				"exits 1 saying why; the next update removes the failed instance first.\n\n" +
				"Examples:\n" +
				"   easlocal update service.json\n" +
				"   easlocal update demo service-v2.json --timeout 2m",
			ArgsUsage: "[SERVICE] FILE",
			Flags:     ctlFlags(timeout),
			Action:    updateAction,
		},
		{
			Name:     "restart",
			Category: categoryControl,
			Usage:    "replace every instance of a running service, one rolling step at a time, without changes",
			Description: "A rolling update to the service.json the service runs (EAS restarts a service this\n" +
				"way): new instances first, old ones terminated once the new ones are ready.\n\n" +
				"Examples:\n" +
				"   easlocal restart\n" +
				"   easlocal restart demo --timeout 2m",
			ArgsUsage: "[SERVICE]",
			Flags:     ctlFlags(timeout),
			Action:    restartAction,
		},
	}
	for _, cmd := range cmds {
		cmd.OnUsageError = onUsageError
	}
	commands = append(commands, cmds...)
}

func updateAction(c *cli.Context) error { return rollingUpdate(c, 1, "[SERVICE] FILE") }

func restartAction(c *cli.Context) error { return rollingUpdate(c, 0, "[SERVICE]") }

// rollingUpdate rolls the service to FILE (want 1) or, without one, to
// the service.json it runs.
func rollingUpdate(c *cli.Context, want int, names string) error {
	d, args, err := target(c, want, names)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := control.UpdateOptions{Timeout: c.Duration("timeout"), Out: c.App.Writer, Err: c.App.ErrWriter}
	if want == 1 {
		o.File = args[0]
	}
	return control.Update(ctx, d, o)
}
