package main

import (
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/scenario"
	"github.com/easlocal/easlocal/serve"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "test",
		Category:  categoryRun,
		Usage:     "run failover scenarios: bring the service up, drive load, inject faults, check expectations, tear down",
		ArgsUsage: "SCENARIO.yaml [SCENARIO.yaml...]",
		Description: "Each scenario runs against a fresh service; the flags of up apply to every one,\n" +
			"and what a scenario's instances and up: set wins. --listen defaults to a free\n" +
			"loopback port. Exit status 0 when every expectation held, 1 when one failed or a\n" +
			"scenario could not run, 2 for a bad scenario file (each error names its line and\n" +
			"field). The format is in the README and examples/scenarios/.\n\n" +
			"Examples:\n" +
			"   easlocal test examples/scenarios/kill-under-load.yaml\n" +
			"   easlocal test --junit report.xml --backoff-initial 1s examples/scenarios/*.yaml\n" +
			"   easlocal test --json scenario.yaml > report.json\n" +
			"   easlocal test --check scenarios/*.yaml   # validate only, run nothing",
		Flags: append(upFlags(),
			&cli.StringFlag{Name: "junit", Usage: "also write the report as JUnit XML to `FILE`"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON instead of text"},
			&cli.BoolFlag{Name: "check", Usage: "only validate the files and say what each scenario would do"},
		),
		Action: testAction,
	})
}

func testAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usage.Errorf("test needs a scenario file, e.g. `easlocal test examples/scenarios/kill-under-load.yaml`")
	}
	if c.Bool("check") {
		return serve.Check(c.Args().Slice(), c.App.Writer)
	}
	up, err := upOptionsFrom(c, "")
	if err != nil {
		return err
	}
	if !c.IsSet("listen") {
		up.Listen = "127.0.0.1:0" // CI runs jobs side by side
	}
	passed, err := serve.Test(c.Context, serve.TestOptions{JUnit: c.String("junit"), Scenario: scenario.Options{
		Files: c.Args().Slice(), Up: up, WaitTimeout: c.Duration("wait-timeout"),
		Out: c.App.Writer, Err: c.App.ErrWriter, JSON: c.Bool("json")}})
	if err == nil && !passed {
		return exitCode(1)
	}
	return err
}
