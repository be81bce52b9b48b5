package main

import (
	"runtime/debug"

	"github.com/easlocal/easlocal/setup"
	"github.com/urfave/cli/v2"
)

// commit is set by `make build` (-ldflags "-X main.commit=..."): go
// build's own VCS stamp is missing in git worktrees and with
// -buildvcs=false.
var commit string

func init() {
	commands = append(commands, &cli.Command{
		Name:     "version",
		Category: categorySetup,
		Usage:    "print easlocal's version and the commit it was built from",
		Description: "Examples:\n" +
			"   easlocal version\n" +
			"   easlocal version --json",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print a JSON object"}},
		Action: func(c *cli.Context) error {
			bi, _ := debug.ReadBuildInfo()
			return setup.PrintVersion(c.App.Writer, setup.BuildVersion(version, commit, bi), c.Bool("json"))
		},
	})
}

// versionInfo is what `easlocal version --json` prints.
type versionInfo = setup.Version
