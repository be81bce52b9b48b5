package session

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

// The report joins the scheduler's current instances with the prober's
// observations (an instance scaled away is left out) and carries the
// advisor's verdict and the numbers.
func TestAdviceReport(t *testing.T) {
	svc, _, err := service.Parse([]byte(`{"metadata": {"name": "slow", "instance": 1}, "containers": [{"image": "img:1",
		"health_check": {"http_get": {"path": "/ready"}, "period_seconds": 1},
		"liveness_check": {"http_get": {"path": "/startup"}, "period_seconds": 2, "failure_threshold": 4}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	all := []scheduler.InstanceStatus{{Name: "slow-0", Containers: []scheduler.ContainerStatus{{Name: "c0", Restarts: 0}}}}
	obs := map[prober.ContainerKey]prober.ContainerObservation{
		{Instance: "slow-0", Container: "c0"}: {Generation: 1, Kinds: map[service.ProbeKind]prober.KindObservation{
			service.Liveness: {Succeeded: true, FirstSuccess: 4010 * time.Millisecond, FailuresBeforeSuccess: 2, Runs: 3,
				Latency: prober.Latency{Samples: 3, P50: time.Millisecond, P99: 2 * time.Millisecond, Max: 2 * time.Millisecond}},
		}},
		{Instance: "slow-5", Container: "c0"}: {Kinds: map[service.ProbeKind]prober.KindObservation{
			service.Liveness: {KilledBeforeSuccess: 9},
		}},
	}
	rep := adviceReport(svc, all, obs)
	if len(rep.Observed) != 1 || rep.Observed[0].Instance != "slow-0" || rep.Observed[0].Probes["liveness"].FirstSuccess != 4.01 {
		t.Errorf("observed %+v: want slow-0 only, first liveness success 4.01 s", rep.Observed)
	}
	if len(rep.Advice) != 1 || rep.Advice[0].Rule != "slow-start" || !rep.Advice[0].Risk ||
		!strings.HasPrefix(rep.Advice[0].Message, "startup took 4 s") || strings.Contains(rep.Advice[0].Message, "killed") {
		t.Errorf("advice %+v: want one slow-start risk from slow-0 alone", rep.Advice)
	}
}

// up prints each risk once, when it first appears, and nothing for
// advice that is not a risk.
func TestWatchAdvicePrintsEachRiskOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		rep := admin.AdviceReport{Advice: []admin.Advice{{Container: "c1", Rule: "no-readiness", Message: "no readiness check"}}}
		out := &testutil.SyncBuffer{}
		s := &Session{svc: &service.Service{Metadata: service.Metadata{Name: "slow"}}, opts: Options{Out: out}}
		s.advice = func() admin.AdviceReport {
			mu.Lock()
			defer mu.Unlock()
			return rep
		}
		ctx, cancel := context.WithCancel(t.Context())
		s.bg.Add(1)
		go s.watchAdvice(ctx, time.Second)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		mu.Lock()
		rep.Advice = append(rep.Advice, admin.Advice{Container: "c0", Probe: "liveness", Instance: "slow-0", Rule: "slow-start", Risk: true, Message: "startup took 4 s"})
		mu.Unlock()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		cancel()
		s.bg.Wait()
		want := "advice: c0 liveness (slow-0): startup took 4 s (easlocal advise slow)\n"
		if got := out.String(); got != want {
			t.Errorf("printed %q, want %q", got, want)
		}
	})
}
