package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/usage"
)

// Kill sends signal (a name such as SIGTERM or TERM, or a number) to the
// containers of instance.
func Kill(ctx context.Context, d *admin.Driver, instance, signal string, w io.Writer) error {
	sig, _, err := admin.ParseSignal(signal)
	if err != nil {
		return usage.Errorf("--signal: %w", err)
	}
	if err := d.Kill(ctx, instance, sig); err != nil {
		return err
	}
	fmt.Fprintf(w, "sent %s to %s of service %s\n", sig, instance, d.Entry.Name)
	return nil
}

// Pause freezes instance: its probes time out.
func Pause(ctx context.Context, d *admin.Driver, instance string, w io.Writer) error {
	if err := d.Pause(ctx, instance); err != nil {
		return err
	}
	fmt.Fprintf(w, "paused %s of service %s: its probes will now time out\n", instance, d.Entry.Name)
	return nil
}

// Unpause thaws an instance Pause froze.
func Unpause(ctx context.Context, d *admin.Driver, instance string, w io.Writer) error {
	if err := d.Unpause(ctx, instance); err != nil {
		return err
	}
	fmt.Fprintf(w, "unpaused %s of service %s\n", instance, d.Entry.Name)
	return nil
}

// Scale sets the number of instances to n, a whole number written by the
// user, and says from how many.
func Scale(ctx context.Context, d *admin.Driver, n string, w io.Writer) error {
	count, err := strconv.Atoi(n)
	if err != nil || count < 0 {
		return usage.Errorf("scale: %q is not a number of instances; use a whole number, 0 or more", n)
	}
	st, err := d.Status(ctx)
	if err != nil {
		return err
	}
	if err := d.Scale(ctx, count); err != nil {
		return err
	}
	name := d.Entry.Name
	fmt.Fprintf(w, "scaling service %s from %d to %d instances; watch with `easlocal ps %s`\n", name, st.Desired, count, name)
	return nil
}

// LogsOptions says which logs Logs prints, and where.
type LogsOptions struct {
	Container string // only this container; "" for every one
	Follow    bool   // keep printing, across restarts, until ctx is done
	Out, Err  io.Writer
}

// Logs prints the logs of `easlocal logs [SERVICE] [INSTANCE]` (args): a
// single argument is a registered service's name (running or crashed:
// admin.Find then says which), or else an instance of the only one. A
// service that ends while followed is said on Err, and is no failure.
func Logs(ctx context.Context, reg admin.Registry, args []string, o LogsOptions) error {
	d, instance, err := serviceOr(reg, args, reg.Get, "logs [SERVICE] [INSTANCE]")
	if err != nil {
		return err
	}
	err = d.Logs(ctx, admin.LogsOptions{Instance: instance, Container: o.Container, Follow: o.Follow}, o.Out)
	var gone *admin.GoneError
	if errors.As(err, &gone) {
		fmt.Fprintln(o.Err, gone)
		return nil
	}
	return err
}
