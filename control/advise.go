package control

import (
	"context"
	"fmt"
	"io"

	"github.com/easlocal/easlocal/admin"
)

// Advise prints the service's probe advice: risks marked with "!", the
// rest indented, a sentence when there is none; or the report as JSON.
func Advise(ctx context.Context, d *admin.Driver, asJSON bool, w io.Writer) error {
	return show(ctx, d.Advice, asJSON, w, printAdvice)
}

// printAdvice writes the advice as text.
func printAdvice(w io.Writer, rep admin.AdviceReport) error {
	if len(rep.Advice) == 0 {
		_, err := fmt.Fprintf(w, "no advice for service %s: its probes leave room in what easlocal saw of %d container(s)\n", rep.Service, len(rep.Observed))
		return err
	}
	fmt.Fprintf(w, "advice for service %s (%d at risk on EAS), from %d container(s) observed:\n", rep.Service, len(rep.Risks()), len(rep.Observed))
	for _, a := range rep.Advice {
		mark := "  "
		if a.Risk {
			mark = "! "
		}
		fmt.Fprintln(w, mark+admin.FormatAdvice(a))
	}
	return nil
}
