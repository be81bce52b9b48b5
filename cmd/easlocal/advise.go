package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/admin"
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
			rep, err := d.Advice(c.Context)
			if err != nil {
				return err
			}
			return printAdvice(rep, c.Bool("json"), c.App.Writer)
		},
	})
}

func printAdvice(rep admin.AdviceReport, asJSON bool, w io.Writer) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if len(rep.Advice) == 0 {
		_, err := fmt.Fprintf(w, "no advice for service %s: its probes leave room in what easlocal saw of %d container(s)\n", rep.Service, len(rep.Observed))
		return err
	}
	fmt.Fprintf(w, "advice for service %s (%d at risk on EAS), from %d container(s) observed:\n", rep.Service, len(rep.Risks()), len(rep.Observed))
	for _, a := range rep.Advice {
		mark := "  "
		if a.Risk {
			mark = "! "
		}
		fmt.Fprintln(w, mark+admin.FormatAdvice(a))
	}
	return nil
}
