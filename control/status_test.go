package control

import (
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// A pending restart shows how long the back-off still runs.
func TestContainerDetailRestart(t *testing.T) {
	now := time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)
	ct := admin.ContainerStatus{NextRestart: now.Add(9600 * time.Millisecond),
		Probes: map[string]admin.ProbeResult{"liveness": {Result: "failure", Output: "HTTP 500"}, "readiness": {Result: "success"}}}
	if got, want := containerDetail(ct, now), "liveness failure (HTTP 500); restarting in 10s"; got != want {
		t.Errorf("detail = %q, want %q", got, want)
	}
	if got := containerDetail(ct, now.Add(time.Minute)); got != "liveness failure (HTTP 500); restarting" {
		t.Errorf("detail after the back-off = %q", got)
	}
}

// While an update is unfinished ps says so, marks each instance's
// revision old or new, and shows why a paused update stopped.
func TestPsShowsUpdate(t *testing.T) {
	st := admin.ServiceStatus{Name: "demo", Desired: 1,
		Update: &admin.UpdateStatus{Revision: 2, Phase: admin.UpdatePaused, New: 1, Old: 1, MaxSurge: 1,
			Message: "new instance demo-1 of revision 2 not ready within 1m0s\n  instance demo-1: Running"},
		Instances: []admin.InstanceStatus{
			{Name: "demo-0", Revision: 1, State: "Running", Ready: true},
			{Name: "demo-1", Revision: 2, State: "Running"},
		}}
	var b strings.Builder
	printStatus(&b, st, time.Now())
	for _, want := range []string{
		"rolling update to revision 2 paused: 1 new (0 ready), 1 old, max surge 1, max unavailable 0",
		"  new instance demo-1 of revision 2 not ready within 1m0s",
		"demo-0    1 (old)", "demo-1    2 (new)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("ps lacks %q:\n%s", want, b.String())
		}
	}
	st.Update.Phase = admin.UpdateComplete
	b.Reset()
	printStatus(&b, st, time.Now())
	if strings.Contains(b.String(), "rolling update") || strings.Contains(b.String(), "(new)") {
		t.Errorf("ps after the update completed:\n%s", b.String())
	}
}

// ps ends with a line per active fault.
func TestPsShowsFaults(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	st := admin.ServiceStatus{Name: "demo", Instances: []admin.InstanceStatus{{Name: "demo-0", State: "Running"}},
		Faults: []admin.Fault{
			{ID: "f1", Instance: "demo-0", Kind: admin.FaultLoss, Percent: 30, Ends: now.Add(4 * time.Second)},
			{ID: "f2", Kind: admin.FaultHTTPAbort, Status: 503, First: 5},
		}}
	var b strings.Builder
	printStatus(&b, st, now)
	for _, want := range []string{"fault f1: loss 30% on demo-0, ends in 4s\n", "fault f2: http-abort 503 (first 5 requests) on every instance, ends when cleared\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("ps output lacks %q:\n%s", want, b.String())
		}
	}
}
