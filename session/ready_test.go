package session

import (
	"strings"
	"testing"

	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

// The control API's not-ready report is the scheduler's: it names each
// desired instance that is not ready with its probe output, leaves out
// instances above the desired count (being scaled away), and is empty
// once every desired instance is ready.
func TestNotReadyReport(t *testing.T) {
	stuck := scheduler.InstanceStatus{Name: "demo-1", Ordinal: 1, State: scheduler.StateRunning,
		Containers: []scheduler.ContainerStatus{{Name: "c0", Image: "img", State: scheduler.ContainerRunning, Started: true,
			Probes: map[service.ProbeKind]scheduler.ProbeStatus{
				service.Readiness: {Result: scheduler.ProbeFailure, Output: "HTTP probe failed with statuscode: 503"}}}}}
	all := []scheduler.InstanceStatus{
		{Name: "demo-0", Ordinal: 0, State: scheduler.StateRunning, Ready: true},
		stuck,
		{Name: "demo-2", Ordinal: 2, State: scheduler.StateTerminating},
	}
	got := notReadyReport(2, all)
	want := (&scheduler.NotReadyError{Want: 2, NotReady: []scheduler.InstanceStatus{stuck}}).Error()
	if got != want {
		t.Errorf("report:\n%s\nwant the scheduler's:\n%s", got, want)
	}
	for _, s := range []string{"1 of 2 instances are not ready", "instance demo-1", "statuscode: 503"} {
		if !strings.Contains(got, s) {
			t.Errorf("report lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "demo-2") {
		t.Errorf("report names demo-2, which is above the desired count:\n%s", got)
	}
	all[1].Ready = true
	if got := notReadyReport(2, all); got != "" {
		t.Errorf("report with every desired instance ready: %q", got)
	}
}
