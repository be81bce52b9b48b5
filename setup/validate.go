package setup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/easlocal/easlocal/k8sexport"
	"github.com/easlocal/easlocal/service"
)

// Validate loads the service file at path ("-": standard input) and
// checks it against the instance limit up applies. Warnings and errors go
// to stderr, the summary (or, asJSON, the effective service.json) to
// stdout. valid is false for an invalid file, whose errors were printed.
func Validate(path string, asJSON bool, maxInstances int, stdout, stderr io.Writer) (valid bool, err error) {
	s, warnings, err := service.Load(path)
	if err == nil {
		// The limit up applies: validate says now what up would refuse.
		err = service.CheckInstances(s.Metadata.Instance, maxInstances, false)
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
			return true, fmt.Errorf("cannot write the effective configuration: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return true, err
	}
	service.WriteSummary(stdout, s)
	return true, nil
}

// ExportK8s loads path as Validate does (valid is false for an invalid
// file, its errors on stderr) and writes the manifests to stdout.
func ExportK8s(path string, opts k8sexport.Options, stdout, stderr io.Writer) (valid bool, err error) {
	s, _, err := service.Load(path)
	if err != nil {
		return invalidFile(path, err, stderr)
	}
	return true, k8sexport.Write(stdout, s, opts)
}

// invalidFile reports a service file that did not load: a
// ValidationError's errors go to stderr with a summary (valid false);
// any other error is returned as it is.
func invalidFile(path string, err error, stderr io.Writer) (valid bool, _ error) {
	var ve *service.ValidationError
	if !errors.As(err, &ve) {
		return true, err
	}
	for _, e := range ve.Errors {
		fmt.Fprintln(stderr, "error:", e)
	}
	fmt.Fprintf(stderr, "%s is not valid: %s\n", displayName(path), errorCount(len(ve.Errors)))
	return false, nil
}

func displayName(path string) string {
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
