package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// UpdateOptions are the options of `easlocal update` and `restart`.
type UpdateOptions struct {
	// File is the new service.json; "" for a restart.
	File string
	// Timeout is how long a new instance may take to become ready before
	// the update pauses (0: no limit).
	Timeout time.Duration
	// Poll is how often progress is checked (default 200ms).
	Poll     time.Duration
	Out, Err io.Writer
}

// ErrUpdatePaused is what Update returns when a new instance failed: the
// update is paused with the old instances serving.
var ErrUpdatePaused = errors.New("the update is paused")

// Update rolls the service to o.File (a restart when o.File is ""),
// printing each step, and returns once every instance is new and ready
// (nil) or the update paused (an error wrapping ErrUpdatePaused naming
// the failed instance and why).
func Update(ctx context.Context, d *admin.Driver, o UpdateOptions) error {
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	req := admin.UpdateRequest{File: o.File}
	if o.Timeout > 0 {
		req.Timeout = o.Timeout.String()
	}
	name := d.Entry.Name
	_, since, err := d.Events(ctx, 1<<62) // only what happens from now on
	if err != nil {
		return err
	}
	var ans admin.UpdateAnswer
	if o.File != "" {
		data, err := os.ReadFile(o.File)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", o.File, err)
		}
		_, warnings, err := service.Parse(data)
		for _, w := range warnings {
			fmt.Fprintf(o.Err, "warning: %s\n", w)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o.File, err)
		}
		req.Service = string(data)
		ans, err = d.Client.Update(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "updating service %s to revision %d from %s\n", name, ans.Revision, o.File)
	} else {
		ans, err = d.Client.Restart(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "restarting every instance of service %s (revision %d)\n", name, ans.Revision)
	}
	begin := time.Now()
	shown := []string{events.RollingUpdate, events.Terminating, events.Ready, events.UpdatePaused, events.UpdateComplete}
	tick := time.NewTicker(o.Poll)
	defer tick.Stop()
	for {
		evs, next, err := d.Events(ctx, since)
		if err != nil {
			return err
		}
		since = next
		for _, e := range evs {
			if slices.Contains(shown, e.Reason) {
				fmt.Fprintf(o.Out, "  %s\n", admin.FormatEvent(e))
			}
		}
		st, err := d.Status(ctx)
		if err != nil {
			return err
		}
		if u := st.Update; u != nil && u.Revision == ans.Revision {
			switch u.Phase {
			case admin.UpdateComplete:
				fmt.Fprintf(o.Out, "service %s runs revision %d on all %d instances (took %s)\n",
					name, u.Revision, u.Desired, time.Since(begin).Round(100*time.Millisecond))
				return nil
			case admin.UpdatePaused:
				return fmt.Errorf("%w: %s", ErrUpdatePaused, u.Message)
			}
		} else if u != nil && u.Revision > ans.Revision {
			return fmt.Errorf("another update (revision %d) replaced this one", u.Revision)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped watching; the update to revision %d goes on (see `easlocal ps %s`)", ans.Revision, name)
		case <-tick.C:
		}
	}
}

// printUpdate writes the ps line about a rolling update in progress or
// paused (nothing for a finished one).
func printUpdate(w io.Writer, u *admin.UpdateStatus) {
	if u == nil || u.Phase == admin.UpdateComplete {
		return
	}
	fmt.Fprintf(w, "rolling update to revision %d %s: %d new (%d ready), %d old, max surge %d, max unavailable %d\n",
		u.Revision, strings.ToLower(u.Phase), u.New, u.NewReady, u.Old, u.MaxSurge, u.MaxUnavailable)
	if u.Phase == admin.UpdatePaused {
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(u.Message, "\n", "\n  "))
	}
}

// revision is the REV column: the number, marked new or old while an
// update is unfinished.
func revision(rev int, u *admin.UpdateStatus) string {
	if rev == 0 {
		return "-"
	}
	s := fmt.Sprint(rev)
	if u != nil && u.Phase != admin.UpdateComplete {
		if rev == u.Revision {
			s += " (new)"
		} else {
			s += " (old)"
		}
	}
	return s
}
