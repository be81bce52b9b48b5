package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/internal/usage"
	easservice "github.com/easlocal/easlocal/service"
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
			return validateFile(c.Args().First(), c.Bool("json"), c.Int("max-instances"), c.App.Writer, c.App.ErrWriter)
		},
	})
}

// invalidFile reports a service file that did not load: a
// ValidationError's errors go to stderr with a summary (exit status 1);
// any other error is returned as it is.
func invalidFile(path string, err error, stderr io.Writer) error {
	var ve *easservice.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, e := range ve.Errors {
		fmt.Fprintln(stderr, "error:", e)
	}
	fmt.Fprintf(stderr, "%s is not valid: %s\n", validateDisplayName(path), errorCount(len(ve.Errors)))
	return exitCode(1)
}

// validateFile prints warnings and errors to stderr and the summary (or the
// effective JSON) to stdout; an invalid file is exit status 1.
func validateFile(path string, asJSON bool, maxInstances int, stdout, stderr io.Writer) error {
	s, warnings, err := easservice.Load(path)
	if err == nil {
		// The limit up applies: validate says now what up would refuse.
		err = easservice.CheckInstances(s.Metadata.Instance, maxInstances, false)
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if err != nil {
		return invalidFile(path, err, stderr)
	}
	if asJSON {
		out, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return fmt.Errorf("cannot write the effective configuration: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return err
	}
	easservice.WriteSummary(stdout, s)
	return nil
}

func validateDisplayName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}

func errorCount(n int) string {
	if n == 1 {
		return "1 error"
	}
	return fmt.Sprintf("%d errors", n)
}
