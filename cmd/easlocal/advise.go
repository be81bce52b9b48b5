package main

import (
	"github.com/easlocal/easlocal/control"
	"github.com/urfave/cli/v2"
)

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
		Action: func(c *cli.Context) error {
			d, _, err := target(c, 0, "[SERVICE]")
			if err != nil {
				return err
			}
			return control.Advise(c.Context, d, c.Bool("json"), c.App.Writer)
		},
	})
}
