package main

import (
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/internal/usage"
	easservice "github.com/easlocal/easlocal/service"
	"github.com/easlocal/easlocal/setup"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "validate",
		Category:  categoryRun,
		Usage:     "check a service.json and show what easlocal would run",
		ArgsUsage: "FILE (- for standard input)",
		Description: "Exit status 0 when the file is valid (warnings go to standard error),\n" +
			"1 when it is not (one error per line on standard error), 2 for a usage error.\n" +
			"With --json, standard output is the effective service.json: every default\n" +
			"filled in, with the same field names, so it can be diffed and fed back.\n\n" +
			"Examples:\n" +
			"   easlocal validate examples/demo/service.json\n" +
			"   easlocal validate --json service.json > effective.json\n" +
			"   cat service.json | easlocal validate -",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the effective configuration as service.json"},
			&cli.IntFlag{Name: "max-instances", Value: easservice.DefaultMaxInstances, Usage: "the instance limit up and run apply (their --max-instances)"},
		},
		// A bad flag of this command is a usage error (exit 2) too; the
		// app-level OnUsageError only covers the global flags.
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usage.Errorf("%w; usage: easlocal validate [--json] FILE", err)
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usage.Errorf("validate takes one service.json file (or - for standard input), got %d arguments; usage: easlocal validate [--json] FILE", c.NArg())
			}
			return valid(setup.Validate(c.Args().First(), c.Bool("json"), c.Int("max-instances"), c.App.Writer, c.App.ErrWriter))
		},
	})
}

// valid makes an invalid service file, whose errors were printed, exit
// status 1.
func valid(ok bool, err error) error {
	if err == nil && !ok {
		return exitCode(1)
	}
	return err
}
