package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/runtime"
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
	imgs, err := rt.Images(c.Context)
	if err != nil {
		return err
	}
	w := c.App.Writer
	switch {
	case c.Bool("json"):
		type image struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		}
		out := make([]image, 0, len(imgs))
		for _, img := range imgs {
			out = append(out, image{img.Name, img.Size})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case c.Bool("quiet"):
		for _, img := range imgs {
			fmt.Fprintln(w, img.Name)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE")
	for _, img := range imgs {
		fmt.Fprintf(tw, "%s\t%s\n", img.Name, runtime.HumanSize(img.Size))
	}
	return tw.Flush()
}
