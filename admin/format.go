package admin

import (
	"fmt"

	"github.com/easlocal/easlocal/events"
)

// FormatEvent is one line: time, instance/container, reason, message.
// Fixed widths rather than a tabwriter so followed lines print at once.
func FormatEvent(ev events.Event) string {
	where := ev.Instance
	if ev.Container != "" {
		where += "/" + ev.Container
	}
	if where == "" {
		where = "-"
	}
	reason := ev.Reason
	if ev.Type == events.Warning {
		reason = "!" + reason // warnings stand out in a scrolling stream
	}
	return fmt.Sprintf("%s  %-16s %-16s %s", ev.Time.Local().Format("15:04:05.000"), where, reason, ev.Message)
}
