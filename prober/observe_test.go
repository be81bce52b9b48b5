package prober

import (
	"net/netip"
	"testing"
	"time"
)

func obsOf(t *testing.T, h *harness, k Kind) KindObservation {
	t.Helper()
	co, ok := h.m.Observations()[ContainerKey{"demo-0", "c0"}]
	if !ok {
		t.Fatal("no observation of demo-0/c0")
	}
	return co.Kinds[k]
}

// A liveness check that fails twice before the app answers (100 ms per
// run) records the first success 4.1 s after the start, after 2 failures.
func TestObserveFirstSuccessAfterFailures(t *testing.T) {
	withHarness(t, Specs{Liveness: probe(2, 5, 1)}, func(k Kind, n int, at time.Duration) (outcome, string, error) {
		time.Sleep(100 * time.Millisecond)
		if at < 4*time.Second {
			return httpStatus(500)
		}
		return httpStatus(200)
	}, func(t *testing.T, h *harness) {
		h.start()
		h.sleep(9 * time.Second)
		o := obsOf(t, h, Liveness)
		if !o.Succeeded || o.FirstSuccess != 4100*time.Millisecond || o.FailuresBeforeSuccess != 2 || o.FailingNow != 0 || o.KilledBeforeSuccess != 0 {
			t.Errorf("got %+v; want first success at 4.1s after 2 failures, nothing killed", o)
		}
		if o.Runs != 5 || o.Latency.Samples != 5 || o.Latency.P99 != 100*time.Millisecond {
			t.Errorf("runs %d, latency %+v; want 5 runs of 100ms", o.Runs, o.Latency)
		}
	})
}

// Percentiles by nearest rank over the runs: 98 quick ones and 2 slow
// ones give p50 10 ms, p99 800 ms; a failure that lasted the whole
// timeout counts as timed out.
func TestObserveLatencyPercentilesAndTimeouts(t *testing.T) {
	withHarness(t, Specs{Readiness: probe(1, 3, 1)}, func(k Kind, n int, at time.Duration) (outcome, string, error) {
		switch n {
		case 10, 20:
			time.Sleep(800 * time.Millisecond)
		case 30:
			time.Sleep(time.Second) // the timeout of probe(...)
			return outFailure, "timed out", nil
		default:
			time.Sleep(10 * time.Millisecond)
		}
		return httpStatus(200)
	}, func(t *testing.T, h *harness) {
		h.start()
		h.sleep(100*time.Second + 500*time.Millisecond)
		o := obsOf(t, h, Readiness)
		if o.Runs != 101 || o.TimedOut != 1 {
			t.Fatalf("runs %d, timed out %d; want 101 and 1", o.Runs, o.TimedOut)
		}
		want := Latency{Samples: 101, P50: 10 * time.Millisecond, P99: 800 * time.Millisecond, Max: time.Second}
		if o.Latency != want {
			t.Errorf("latency %+v, want %+v", o.Latency, want)
		}
	})
}

// A liveness check that kills every generation before it ever passes is
// counted per generation; the window keeps only the last LatencyWindow runs.
func TestObserveKilledBeforeSuccess(t *testing.T) {
	withHarness(t, Specs{Liveness: probe(1, 2, 1)}, func(Kind, int, time.Duration) (outcome, string, error) {
		return httpStatus(500)
	}, func(t *testing.T, h *harness) {
		for gen := 1; gen <= 3; gen++ {
			c := h.startTarget(Target{Instance: "demo-0", Container: "c0", Host: netip.MustParseAddr("10.213.0.5"), Started: time.Now(), Generation: gen})
			h.sleep(5 * time.Second)
			c.Stop()
		}
		o := obsOf(t, h, Liveness)
		if o.KilledBeforeSuccess != 3 || o.Succeeded || o.FailingNow != 2 || o.Runs != 6 {
			t.Errorf("got %+v; want 3 generations killed before success, 2 failures in the current one, 6 runs", o)
		}
	})
}

func TestLatencyWindow(t *testing.T) {
	var o observer
	tg := Target{Instance: "i", Container: "c"}
	for i := range LatencyWindow + 10 {
		d := time.Millisecond
		if i < 10 {
			d = time.Hour // pushed out of the window
		}
		o.run(tg, Readiness, true, d, time.Second, time.Now())
	}
	got := o.snapshot()[ContainerKey{"i", "c"}].Kinds[Readiness]
	if got.Runs != LatencyWindow+10 || got.Latency != (Latency{Samples: LatencyWindow, P50: time.Millisecond, P99: time.Millisecond, Max: time.Millisecond}) {
		t.Errorf("got %+v", got)
	}
}
