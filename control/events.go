package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/easlocal/easlocal/admin"
)

// EventsOptions says how Events prints.
type EventsOptions struct {
	JSON bool // one JSON object a line
	// Follow keeps printing new events until ctx is done or the service
	// ends its stream (then it says so on Err).
	Follow   bool
	Out, Err io.Writer
}

// Events prints the service's events, one line each.
func Events(ctx context.Context, d *admin.Driver, o EventsOptions) error {
	print := func(ev admin.Event) error {
		if o.JSON {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "%s\n", b)
			return err
		}
		_, err := fmt.Fprintln(o.Out, admin.FormatEvent(ev))
		return err
	}
	if o.Follow {
		if err := d.FollowEvents(ctx, 0, print); err != nil {
			return err
		}
		if ctx.Err() == nil { // the service closed the stream, not Ctrl-C
			fmt.Fprintf(o.Err, "service %s ended its event stream: it is stopping\n", d.Entry.Name)
		}
		return nil
	}
	evs, _, err := d.Client.Events(ctx, 0)
	if err != nil {
		return err
	}
	if len(evs) == 0 && !o.JSON {
		fmt.Fprintf(o.Out, "no events yet for service %s\n", d.Entry.Name)
	}
	for _, ev := range evs {
		if err := print(ev); err != nil {
			return err
		}
	}
	return nil
}
