package main

import (
	"fmt"
	"io"
	"os"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/setup"
	"github.com/urfave/cli/v2"
)

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
	var in io.Reader = c.App.Reader
	if name := c.Args().First(); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		defer f.Close()
		in = f
	}
	if in == nil {
		in = os.Stdin
	}
	rt, err := newRuntime(c)
	if err != nil {
		return err
	}
	defer rt.Close()
	return setup.Load(c.Context, rt, in, c.App.Writer)
}
