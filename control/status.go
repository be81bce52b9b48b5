package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/service"
)

// Ps prints the service's instances and containers: a table, or the
// status as JSON.
func Ps(ctx context.Context, d *admin.Driver, asJSON bool, w io.Writer) error {
	return show(ctx, d.Status, asJSON, w, func(w io.Writer, st admin.ServiceStatus) error {
		printStatus(w, st, time.Now())
		return nil
	})
}

// show asks the service for a value with get and prints it: with text,
// or as JSON (printAs).
func show[T any](ctx context.Context, get func(context.Context) (T, error), asJSON bool, w io.Writer, text func(io.Writer, T) error) error {
	v, err := get(ctx)
	if err != nil {
		return err
	}
	return printAs(w, v, asJSON, text)
}

// printAs prints v as indented JSON when asJSON, else with text.
func printAs[T any](w io.Writer, v T, asJSON bool, text func(io.Writer, T) error) error {
	if asJSON {
		return printJSON(w, v)
	}
	return text(w, v)
}

// printStatus writes the ps table: one line per instance, then one per
// container, with why something is not well in the last column.
func printStatus(w io.Writer, st admin.ServiceStatus, now time.Time) {
	ready := 0
	for _, in := range st.Instances {
		if in.Ready {
			ready++
		}
	}
	fmt.Fprintf(w, "service %s: %d of %d instances ready (%d desired)", st.Name, ready, len(st.Instances), st.Desired)
	if st.GatewayURL != "" {
		fmt.Fprintf(w, ", gateway %s", st.GatewayURL)
	}
	fmt.Fprintln(w)
	printUpdate(w, st.Update)
	if len(st.Instances) == 0 {
		fmt.Fprintln(w, "no instances")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "INSTANCE\tREV\tIP\tSTATE\tREADY\tRESTARTS\tDETAILS")
	for _, in := range st.Instances {
		detail := in.Reason
		if in.Message != "" {
			detail = strings.TrimPrefix(detail+": "+in.Message, ": ")
		}
		state := in.State
		if in.Paused {
			state += " (paused)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", in.Name, revision(in.Revision, st.Update), orDash(in.IP), state, yesNo(in.Ready), in.Restarts, detail)
		for _, ct := range in.Containers {
			state := ct.State
			if ct.Reason != "" {
				state += " (" + ct.Reason + ")"
			}
			fmt.Fprintf(tw, "  %s\t\t\t%s\t%s\t%d\t%s\n", ct.Name, state, yesNo(ct.Ready), ct.Restarts, containerDetail(ct, now))
		}
	}
	tw.Flush()
	printFaults(w, st.Faults, now) // faults.go
}

// containerDetail names failing probes, the last exit and a pending
// restart.
func containerDetail(ct admin.ContainerStatus, now time.Time) string {
	var parts []string
	for _, kind := range service.ProbeKinds {
		p, ok := ct.Probes[string(kind)]
		if !ok || p.Result == "success" {
			continue
		}
		s := string(kind) + " " + p.Result
		if p.Output != "" {
			s += " (" + oneLine(p.Output) + ")"
		}
		parts = append(parts, s)
	}
	if x := ct.LastExit; x != nil {
		s := "last exit: " + x.Message
		if x.Message == "" {
			s = fmt.Sprintf("last exit: code %d", x.Code)
			if x.Signal != "" {
				s += ", " + x.Signal
			}
			if x.OOMKilled {
				s += ", OOMKilled"
			}
		}
		parts = append(parts, s)
	}
	if !ct.NextRestart.IsZero() {
		if d := ct.NextRestart.Sub(now).Round(time.Second); d > 0 {
			parts = append(parts, fmt.Sprintf("restarting in %s", d))
		} else {
			parts = append(parts, "restarting")
		}
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newTable is the layout of every table the commands print: columns
// two spaces apart.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Endpoints prints the ready endpoints the gateway routes to: a table, or
// JSON.
func Endpoints(ctx context.Context, d *admin.Driver, asJSON bool, w io.Writer) error {
	return show(ctx, d.Endpoints, asJSON, w, func(w io.Writer, eps []admin.Endpoint) error {
		return printEndpoints(w, d.Entry.Name, eps)
	})
}

// printEndpoints writes the endpoints table, or a sentence when there
// is none.
func printEndpoints(w io.Writer, name string, eps []admin.Endpoint) error {
	if len(eps) == 0 {
		fmt.Fprintf(w, "service %s has no ready endpoint: the gateway answers 503 until an instance is ready (see `easlocal ps %s`)\n", name, name)
		return nil
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "INSTANCE\tIP\tPORT")
	for _, ep := range eps {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", ep.Instance, ep.IP, ep.Port)
	}
	return tw.Flush()
}
