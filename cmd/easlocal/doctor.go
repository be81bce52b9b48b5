package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/runtime"
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
			checks := runtime.Preflight(ctx, cfg)
			ok := checksOK(checks)
			if c.Bool("json") {
				if err := printChecksJSON(c.App.Writer, checks, ok); err != nil {
					return err
				}
			} else {
				printChecks(c.App.Writer, checks)
			}
			if !ok {
				return exitCode(1)
			}
			return nil
		},
	})
}

// checksOK reports whether every required check passed.
func checksOK(checks []runtime.Check) bool {
	for _, c := range checks {
		if !c.OK && !c.Optional {
			return false
		}
	}
	return true
}

// printChecksJSON is doctor --json: {"ok": bool, "checks": [...]}.
func printChecksJSON(w io.Writer, checks []runtime.Check, ok bool) error {
	type check struct {
		Name     string `json:"name"`
		OK       bool   `json:"ok"`
		Optional bool   `json:"optional"`
		Detail   string `json:"detail"`
		Fix      string `json:"fix,omitempty"`
	}
	out := struct {
		OK     bool    `json:"ok"`
		Checks []check `json:"checks"`
	}{OK: ok, Checks: []check{}}
	for _, c := range checks {
		out.Checks = append(out.Checks, check{c.Name, c.OK, c.Optional, c.Detail, c.Fix})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
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
