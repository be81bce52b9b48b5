package main

import (
	"context"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/setup"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:     "doctor",
		Category: categorySetup,
		Usage:    "check what easlocal needs (root, containerd, runc, CNI plugins, netns, cgroups) and how to get what is missing",
		Description: "One line per check, with the fix under each one that is missing. Exit status 0\n" +
			"when easlocal can run services here, 1 when something required is missing.\n\n" +
			"Examples:\n" +
			"   easlocal doctor\n" +
			"   easlocal doctor --json | jq '.checks[] | select(.ok | not)'",
		Flags: append(runtimeFlags(), &cli.BoolFlag{Name: "json", Usage: "print the checks as a JSON object"}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usage.Errorf("doctor takes no arguments")
			}
			cfg, err := runtimeConfig(c)
			if err != nil {
				return usage.Wrap(err)
			}
			ctx := c.Context
			if ctx == nil {
				ctx = context.Background()
			}
			ok, err := setup.Doctor(ctx, cfg, c.Bool("json"), c.App.Writer)
			if err == nil && !ok {
				return exitCode(1)
			}
			return err
		},
	})
}
