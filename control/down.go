package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/runtime"
)

// Cleaner is what down needs of the container runtime to remove what a
// crashed easlocal left behind (*runtime.Runtime).
type Cleaner interface {
	Leftovers(ctx context.Context, service string) (runtime.Leftovers, error)
	Cleanup(ctx context.Context, service string) error
	Close() error
}

// DownOptions is `easlocal down [SERVICE]`.
type DownOptions struct {
	Registry admin.Registry
	Args     []string      // [SERVICE]
	Timeout  time.Duration // how long to wait for the service to stop
	// Runtime connects to containerd, only when there is something to
	// clean up.
	Runtime func() (Cleaner, error)
	Out     io.Writer
}

// Down asks the service to stop and waits until its process has
// unregistered or exited. A service whose easlocal ended without
// stopping it (killed, crashed) is cleaned up here instead, holding the
// service's lock so no `up` of it starts meanwhile.
func Down(ctx context.Context, o DownOptions) error {
	if len(o.Args) > 1 {
		return usage.Errorf("usage: easlocal down [SERVICE]")
	}
	reg := o.Registry
	name := ""
	var err error
	if len(o.Args) == 1 {
		name = o.Args[0]
	} else if name, err = onlyService(reg); err != nil {
		return err
	}
	e, err := reg.Get(name)
	if err == nil && e.Running() {
		err := stop(ctx, admin.NewDriver(reg, e), o.Timeout, o.Out)
		if !errors.Is(err, admin.ErrGone) {
			if err != nil {
				return err
			}
			// It ended without unregistering (killed during its teardown):
			// finish the cleanup.
			if after, gerr := reg.Get(name); gerr == nil && !after.Running() {
				if _, err := cleanupLeftovers(ctx, o, name); err != nil {
					return err
				}
			}
			return nil
		}
		// It ended between the look and the request: clean up after it.
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	removed, err := cleanupLeftovers(ctx, o, name)
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("service %s is not running and left nothing behind", name)
	}
	fmt.Fprintf(o.Out, "service %s was not running; removed what an earlier run left behind\n", name)
	return nil
}

// stop asks the service to stop and waits, at most timeout, until its
// process has unregistered or exited.
func stop(ctx context.Context, d *admin.Driver, timeout time.Duration, w io.Writer) error {
	signalled, err := d.RequestDown(ctx)
	if err != nil {
		return err
	}
	e := d.Entry
	if signalled {
		fmt.Fprintf(w, "the control API of service %s does not answer; sent SIGTERM to its process (pid %d)\n", e.Name, e.PID)
	}
	fmt.Fprintf(w, "stopping service %s ...\n", e.Name)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waiter := *d
	waiter.Poll = 100 * time.Millisecond
	if err := waiter.WaitGone(wctx); err != nil {
		if wctx.Err() != nil {
			return fmt.Errorf("service %s (pid %d) is still stopping after %s; wait, or see its logs", e.Name, e.PID, timeout)
		}
		return err
	}
	fmt.Fprintf(w, "service %s stopped\n", e.Name)
	return nil
}

// onlyService is the service `down` without a name means: the one
// registered, running or not. With several it asks for a name, listing
// each, so a crashed one is never mistaken for a running one.
func onlyService(reg admin.Registry) (string, error) {
	all, err := reg.Entries()
	if err != nil {
		return "", err
	}
	switch len(all) {
	case 0:
		return "", admin.ErrNoService
	case 1:
		return all[0].Name, nil
	}
	var list []string
	for _, e := range all {
		state := "running"
		if !e.Running() {
			state = fmt.Sprintf("not running: its easlocal, pid %d, ended without stopping it", e.PID)
		}
		list = append(list, fmt.Sprintf("%s (%s)", e.Name, state))
	}
	return "", usage.Errorf("several easlocal services are registered: %s; name the one to stop, e.g. `easlocal down %s`",
		strings.Join(list, ", "), all[0].Name)
}

// cleanupLeftovers removes what a crashed easlocal left of service:
// containers, snapshots, network namespaces, IP leases and its registry
// entry. It holds the service's lock meanwhile; while an `up` of the
// service holds it, it fails at once saying so.
func cleanupLeftovers(ctx context.Context, o DownOptions, name string) (removed bool, err error) {
	reg := o.Registry
	lock, err := reg.TryLock(name, admin.LockDown)
	if err != nil {
		return false, err
	}
	defer lock.Remove()
	// Under the lock no easlocal serves the service; an entry that now
	// looks running names a process that took the name without the lock.
	e, gerr := reg.Get(name)
	if gerr == nil && e.Running() {
		return false, fmt.Errorf("service %s is running again (pid %d); run `easlocal down %s` again", name, e.PID, name)
	}
	rt, err := o.Runtime()
	if err != nil {
		return false, err
	}
	defer rt.Close()
	left, err := rt.Leftovers(ctx, name)
	if err != nil {
		return false, err
	}
	if !left.Empty() {
		if err := rt.Cleanup(ctx, name); err != nil {
			return false, fmt.Errorf("cannot remove what service %s left behind: %w", name, err)
		}
	}
	if gerr == nil {
		if err := reg.Remove(name); err != nil {
			return false, err
		}
	}
	return !left.Empty(), nil
}
