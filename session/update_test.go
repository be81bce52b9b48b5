package session

import (
	"testing"
	"time"

	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

// The lifecycle values come from the service.json in any of its
// spellings; --stop-grace overrides only the grace period.
func TestLifecycleOf(t *testing.T) {
	const c = `"containers": [{"image": "img", "port": 8000}]`
	for _, tc := range []struct {
		name, json string
		stopGrace  time.Duration
		want       lifecycle
	}{
		{"defaults", `{"metadata": {"name": "demo", "instance": 1}, ` + c + `}`, 0,
			lifecycle{term: scheduler.Termination{Grace: 30 * time.Second}}},
		{"nested", `{"metadata": {"name": "demo", "instance": 1, "eas": {"termination_grace_period": 5}, "rpc": {"enable_sigterm": true},
			"rolling_strategy": {"max_surge": "50%", "max_unavailable": 1}}, "runtime": {"enable_crash_block": true}, ` + c + `}`, 0,
			lifecycle{term: scheduler.Termination{Grace: 5 * time.Second, SIGTERM: true}, crashBlock: true, maxSurge: "50%", maxUnavailable: "1"}},
		{"dotted", `{"metadata": {"name": "demo", "instance": 1, "eas.termination_grace_period": 7, "rpc.enable_sigterm": true}, ` + c + `}`, 0,
			lifecycle{term: scheduler.Termination{Grace: 7 * time.Second, SIGTERM: true}}},
		{"--stop-grace wins", `{"metadata": {"name": "demo", "instance": 1, "eas": {"termination_grace_period": 7}}, ` + c + `}`, 2 * time.Second,
			lifecycle{term: scheduler.Termination{Grace: 2 * time.Second}}},
	} {
		svc, _, err := service.Parse([]byte(tc.json))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := lifecycleOf(svc, tc.stopGrace); got != tc.want {
			t.Errorf("%s: lifecycleOf = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
