package control

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// Down asks the service to stop and waits, at most timeout, until its
// process has unregistered or exited.
func Down(ctx context.Context, d *admin.Driver, timeout time.Duration, w io.Writer) error {
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
