package main

// The commands of the "Set up" category that need no running service
// (package setup): doctor, load, images, version.

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/runtime"
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

func init() {
	commands = append(commands, &cli.Command{
		Name:      "load",
		Category:  categorySetup,
		Usage:     "import an image archive (docker save or OCI layout) into easlocal's containerd",
		ArgsUsage: "FILE.tar|-",
		Description: "Imports every image of the archive into containerd namespace easlocal, unpacks it\n" +
			"and prints the image names added. Use - to read the archive from stdin.\n\n" +
			"Examples:\n" +
			"   easlocal load bin/example-image.tar\n" +
			"   docker save myimage:latest | easlocal load -",
		Flags:  runtimeFlags(),
		Action: loadAction,
	})
}

func loadAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return usage.Errorf("load: give one archive, or - for stdin")
	}
	stdin := c.App.Reader
	if stdin == nil {
		stdin = os.Stdin
	}
	return setup.Load(c.Context, func() (*runtime.Runtime, error) { return newRuntime(c) }, c.Args().First(), stdin, c.App.Writer)
}

func init() {
	commands = append(commands, &cli.Command{
		Name:     "images",
		Category: categorySetup,
		Usage:    "list the images in easlocal's containerd namespace",
		Description: "The images a service.json can name without a pull: the ones `easlocal load`\n" +
			"imported and the ones pulled before.\n\n" +
			"Examples:\n" +
			"   easlocal images\n" +
			"   easlocal images --json",
		Flags: append(runtimeFlags(),
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the names"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array"},
		),
		Action: imagesAction,
	})
}

func imagesAction(c *cli.Context) error {
	if c.NArg() != 0 {
		return usage.Errorf("images takes no arguments")
	}
	rt, err := newRuntime(c)
	if err != nil {
		return err
	}
	defer rt.Close()
	return setup.Images(c.Context, rt, setup.ImagesOptions{JSON: c.Bool("json"), Quiet: c.Bool("quiet")}, c.App.Writer)
}

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
