package control

import (
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
