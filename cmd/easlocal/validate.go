package main

// validate and export k8s: a service.json read, checked and shown or
// converted (package setup).

import (
	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/k8sexport"
	"github.com/easlocal/easlocal/service"
	"github.com/easlocal/easlocal/setup"
	"github.com/urfave/cli/v2"
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
			&cli.IntFlag{Name: "max-instances", Value: service.DefaultMaxInstances, Usage: "the instance limit up and run apply (their --max-instances)"},
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

func init() {
	k8s := &cli.Command{
		Name:      "k8s",
		Usage:     "write Kubernetes manifests (a Deployment and a Service) for a service.json",
		ArgsUsage: "FILE (- for standard input)",
		Description: "The manifests go to standard output: the same probes with EAS's defaults\n" +
			"written out, resources, storage, grace period and SIGTERM behaviour. A header\n" +
			"comment lists the claims to create and what has no Kubernetes equivalent.\n\n" +
			"Examples:\n" +
			"   easlocal export k8s examples/demo/service.json > demo.yaml\n" +
			"   easlocal export k8s --namespace prod service.json | kubectl apply -f -",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "the namespace of every object (default: none, kubectl's)"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usage.Errorf("%w; usage: easlocal export k8s [--namespace NS] FILE", err)
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usage.Errorf("export k8s takes one service.json file (or - for standard input), got %d arguments; usage: easlocal export k8s [--namespace NS] FILE", c.NArg())
			}
			return valid(setup.ExportK8s(c.Args().First(), k8sexport.Options{Namespace: c.String("namespace")}, c.App.Writer, c.App.ErrWriter))
		},
	}
	commands = append(commands, &cli.Command{
		Name:      "export",
		Category:  categoryRun,
		Usage:     "write a service.json in another system's format",
		ArgsUsage: "k8s [--namespace NS] FILE",
		Description: "Formats: k8s (a Deployment and a Service; easlocal export k8s --help).\n\n" +
			"Example:\n" +
			"   easlocal export k8s --namespace prod examples/demo/service.json",
		Subcommands: []*cli.Command{k8s},
		Action: func(c *cli.Context) error {
			return usage.Errorf("export needs a format; usage: easlocal export k8s [--namespace NS] FILE")
		},
	})
}
