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
