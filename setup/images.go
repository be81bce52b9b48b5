package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/easlocal/easlocal/runtime"
)

// Load imports the image archive at path (docker save or OCI layout; "-"
// reads stdin) and prints the names of the images added. It connects to
// containerd only once the archive is open.
func Load(ctx context.Context, connect func() (*runtime.Runtime, error), path string, stdin io.Reader, w io.Writer) error {
	in := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		defer f.Close()
		in = f
	}
	rt, err := connect()
	if err != nil {
		return err
	}
	defer rt.Close()
	names, err := rt.Load(ctx, in)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintf(w, "loaded %s\n", n)
	}
	return nil
}

// ImagesOptions says how Images prints: a table unless JSON (an array) or
// Quiet (only the names).
type ImagesOptions struct {
	JSON, Quiet bool
}

// Images lists the images in easlocal's containerd namespace.
func Images(ctx context.Context, rt *runtime.Runtime, o ImagesOptions, w io.Writer) error {
	imgs, err := rt.Images(ctx)
	if err != nil {
		return err
	}
	switch {
	case o.JSON:
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
	case o.Quiet:
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
