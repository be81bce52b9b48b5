package control

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// InjectFault starts f in the service and says what it did.
func InjectFault(ctx context.Context, d *admin.Driver, f admin.Fault, w io.Writer) error {
	id, err := d.InjectFault(ctx, f)
	if err != nil {
		return err
	}
	f.ID = id
	switch f.Kind {
	case admin.FaultKill, admin.FaultExit:
		fmt.Fprintf(w, "fault %s: %s of service %s\n", id, faultWhat(f), d.Entry.Name)
	default:
		until := "until cleared"
		if f.For > 0 {
			until = "for " + f.For.String()
		}
		fmt.Fprintf(w, "fault %s: %s of service %s, %s; clear it with `easlocal fault clear %s`\n", id, faultWhat(f), d.Entry.Name, until, id)
	}
	return nil
}

// Faults prints the active faults: a table, or JSON.
func Faults(ctx context.Context, d *admin.Driver, asJSON bool, w io.Writer) error {
	list, err := d.ListFaults(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, list)
	}
	if len(list) == 0 {
		fmt.Fprintf(w, "service %s has no active faults\n", d.Entry.Name)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFAULT\tENDS\tHITS")
	now := time.Now()
	for _, f := range list {
		hits := "-"
		if f.HTTP() {
			hits = fmt.Sprint(f.Hits)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.ID, faultWhat(f), faultEnds(f, now), hits)
	}
	return tw.Flush()
}

// ClearFaults reverts one fault (id) or all ("").
func ClearFaults(ctx context.Context, d *admin.Driver, id string, w io.Writer) error {
	if id == "" {
		if err := d.ClearFaults(ctx); err != nil {
			return err
		}
		fmt.Fprintf(w, "cleared every fault of service %s\n", d.Entry.Name)
		return nil
	}
	if err := d.ClearFault(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(w, "cleared fault %s of service %s\n", id, d.Entry.Name)
	return nil
}

// faultWhat is a fault in a few words: "blackhole on demo-1".
func faultWhat(f admin.Fault) string {
	s := f.Effect()
	var opts []string
	if f.HTTP() && f.Percent > 0 && f.Percent < 100 {
		opts = append(opts, fmt.Sprintf("%d%% of requests", f.Percent))
	}
	if f.First > 0 {
		opts = append(opts, fmt.Sprintf("first %d requests", f.First))
	}
	if len(opts) > 0 {
		s += " (" + strings.Join(opts, ", ") + ")"
	}
	if f.Instance == "" {
		return s + " on every instance"
	}
	return s + " on " + f.Instance
}

func faultEnds(f admin.Fault, now time.Time) string {
	if f.Ends.IsZero() {
		return "when cleared"
	}
	if d := f.Ends.Sub(now).Round(time.Second); d > 0 {
		return "in " + d.String()
	}
	return "now"
}

// printFaults ends the ps table with a line per active fault.
func printFaults(w io.Writer, list []admin.Fault, now time.Time) {
	for _, f := range list {
		fmt.Fprintf(w, "fault %s: %s, ends %s\n", f.ID, faultWhat(f), faultEnds(f, now))
	}
}
