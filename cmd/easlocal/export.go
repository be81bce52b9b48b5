package main

import (
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/k8sexport"
	"github.com/easlocal/easlocal/setup"
)

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
