package control

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/usage"
)

// FaultOptions is `easlocal fault [SERVICE] INSTANCE|all KIND [VALUE]`:
// Args are the positional arguments, the rest the flags.
type FaultOptions struct {
	Args    []string
	For     time.Duration // revert the fault after this long; 0: until cleared
	First   int           // HTTP faults: only the first N requests
	Percent *int          // the share of requests (or packets) hit; nil: as Args say
	Out     io.Writer
}

// Fault reads the fault from o and starts it in the service.
func Fault(ctx context.Context, reg admin.Registry, o FaultOptions) error {
	service, f, err := ParseFault(o.Args)
	if err != nil {
		return usage.Wrap(err)
	}
	f.For = o.For
	f.First = o.First
	if o.Percent != nil {
		f.Percent = *o.Percent
	}
	if err := f.Validate(); err != nil {
		return usage.Wrap(err)
	}
	d, err := admin.Find(reg, service)
	if err != nil {
		return err
	}
	return injectFault(ctx, d, f, o.Out)
}

// injectFault starts f in the service and says what it did.
func injectFault(ctx context.Context, d *admin.Driver, f admin.Fault, w io.Writer) error {
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
	return show(ctx, d.ListFaults, asJSON, w, func(w io.Writer, list []admin.Fault) error {
		return printFaultList(w, d.Entry.Name, list, time.Now())
	})
}

// printFaultList writes the table of active faults, or a sentence when
// there is none.
func printFaultList(w io.Writer, name string, list []admin.Fault, now time.Time) error {
	if len(list) == 0 {
		fmt.Fprintf(w, "service %s has no active faults\n", name)
		return nil
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tFAULT\tENDS\tHITS")
	for _, f := range list {
		hits := "-"
		if f.HTTP() {
			hits = fmt.Sprint(f.Hits)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.ID, faultWhat(f), faultEnds(f, now), hits)
	}
	return tw.Flush()
}

// ClearFaults is `easlocal fault clear [SERVICE] [ID]` (args): it
// reverts one fault or, without ID, every one. A single argument is a
// running service's name, or else a fault of the only one.
func ClearFaults(ctx context.Context, reg admin.Registry, args []string, w io.Writer) error {
	d, id, err := serviceOr(reg, args, reg.Lookup, "fault clear [SERVICE] [ID]")
	if err != nil {
		return err
	}
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
