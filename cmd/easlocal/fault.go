package main

import (
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/control"
)

func init() {
	cmd := &cli.Command{
		Name:     "fault",
		Category: categoryControl,
		Usage:    "inject a fault into a running service's instance (network, HTTP, kill, pause, exit)",
		Description: "Network faults act inside the instance's network namespace: blackhole drops every packet, reject refuses\n" +
			"connections, loss drops a share of packets, bandwidth limits what it sends. HTTP faults act in the gateway,\n" +
			"for one instance or (INSTANCE all) every one: http-delay adds latency, http-abort answers a status or resets\n" +
			"the connection. kill crashes it, pause freezes it, exit makes its app end itself. Every fault is reverted\n" +
			"after --for, by `easlocal fault clear`, or when the service stops.\n\n" +
			"Example: easlocal fault demo-1 loss 30% --for 20s",
		ArgsUsage: control.FaultUsage,
		Flags: ctlFlags(
			&cli.DurationFlag{Name: "for", Usage: "revert the fault after this long (default: until cleared)"},
			&cli.IntFlag{Name: "first", Usage: "HTTP faults: only the first N requests"},
			&cli.IntFlag{Name: "percent", Usage: "HTTP faults: the share of requests hit (default all); loss: the share of packets"}),
		Action: faultAction,
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list the active faults",
				ArgsUsage: "[SERVICE]",
				Flags:     ctlFlags(jsonFlag),
				Action: func(c *cli.Context) error {
					inheritRegistry(c)
					return show(control.Faults)(c)
				},
			},
			{
				Name:      "clear",
				Usage:     "revert one fault (ID from `easlocal fault list`) or every fault",
				ArgsUsage: "[SERVICE] [ID]",
				Flags:     ctlFlags(),
				Action:    faultClearAction,
			},
		},
	}
	for _, c := range append(cmd.Subcommands, cmd) {
		c.OnUsageError = onUsageError
	}
	commands = append(commands, cmd)
}

// inheritRegistry lets `easlocal fault --registry-dir D list` (the flag
// before the subcommand) mean the same as after it.
func inheritRegistry(c *cli.Context) {
	if c.IsSet("registry-dir") {
		return
	}
	for _, p := range c.Lineage()[1:] {
		if p.IsSet("registry-dir") {
			c.Set("registry-dir", p.String("registry-dir"))
			return
		}
	}
}

func faultAction(c *cli.Context) error {
	args, err := ctlArgs(c)
	if err != nil {
		return err
	}
	o := control.FaultOptions{Args: args, For: c.Duration("for"), First: c.Int("first"), Out: c.App.Writer}
	if c.IsSet("percent") {
		p := c.Int("percent")
		o.Percent = &p
	}
	return control.Fault(c.Context, registry(c), o)
}

func faultClearAction(c *cli.Context) error {
	args, err := ctlArgs(c)
	if err != nil {
		return err
	}
	inheritRegistry(c)
	return control.ClearFaults(c.Context, registry(c), args, c.App.Writer)
}
