package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/easlocal/easlocal/runtime"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:  "doctor",
		Usage: "check what easlocal needs (root, containerd, runc, CNI plugins, netns, cgroups) and how to get what is missing",
		Flags: runtimeFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError{errors.New("doctor takes no arguments")}
			}
			cfg, err := runtimeConfig(c)
			if err != nil {
				return usageError{err}
			}
			ctx := c.Context
			if ctx == nil {
				ctx = context.Background()
			}
			if !printChecks(c.App.Writer, runtime.Preflight(ctx, cfg)) {
				return exitCode(1)
			}
			return nil
		},
	})
}

// printChecks writes one line per check, with the fix under each missing
// one, and reports whether every required check passed.
func printChecks(w io.Writer, checks []runtime.Check) bool {
	ok := true
	for _, c := range checks {
		mark := "ok     "
		switch {
		case c.OK:
		case c.Optional:
			mark = "warn   "
		default:
			mark = "MISSING"
			ok = false
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Detail)
		if !c.OK && c.Fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", c.Fix)
		}
	}
	if ok {
		fmt.Fprintln(w, "easlocal can run services on this machine.")
	} else {
		fmt.Fprintln(w, "easlocal cannot run services until the MISSING items are fixed.")
	}
	return ok
}
