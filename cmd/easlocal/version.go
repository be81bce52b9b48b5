package main

import (
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:  "version",
		Usage: "print easlocal's version",
		Action: func(c *cli.Context) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(c.App.Writer, "easlocal %s\n", v)
			return nil
		},
	})
}
