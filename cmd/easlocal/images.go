package main

import (
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/setup"
)

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
