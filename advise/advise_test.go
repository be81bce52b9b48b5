package advise

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/service"
)

// svc parses containers (a JSON array body) into a service with EAS's
// effective values filled in.
func svc(t *testing.T, containers string) *service.Service {
	t.Helper()
	s, _, err := service.Parse([]byte(`{"metadata": {"name": "svc", "instance": 2}, "containers": [` + containers + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const ready = `"health_check": {"http_get": {"path": "/ready"}, "period_seconds": 1}`

func obs(instance string, container int, k service.ProbeKind, p Probe) Observed {
	return Observed{Instance: instance, Container: container, Probes: map[service.ProbeKind]Probe{k: p}}
}

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name       string
		containers string
		observed   []Observed
		want       []string // "container instance rule: message", in order
	}{
		{
			name:       "slow start against liveness without startup_check",
			containers: `{"image": "img:1", ` + ready + `, "liveness_check": {"http_get": {"path": "/health"}, "initial_delay_seconds": 10, "period_seconds": 10, "failure_threshold": 5}}`,
			observed:   []Observed{obs("svc-0", 0, service.Liveness, Probe{Succeeded: true, FirstSuccess: 41 * time.Second, FailuresBeforeSuccess: 3})},
			want:       []string{"c0 svc-0 slow-start: startup took 41 s (the liveness check failed 3 times before it first passed, on svc-0); on EAS your liveness check (initial delay 10 s, period 10 s, failure threshold 5) would kill it if the start took longer than 50 to 60 s: add a startup_check with period 10 and failure_threshold ≥ 6"},
		},
		{
			name:       "liveness passed at its first run: no risk",
			containers: `{"image": "img:1", ` + ready + `, "liveness_check": {"http_get": {"path": "/health"}, "period_seconds": 1}}`,
			observed:   []Observed{obs("svc-0", 0, service.Liveness, Probe{Succeeded: true, FirstSuccess: 20 * time.Millisecond})},
		},
		{
			name:       "a startup_check holds liveness back: no slow-start advice",
			containers: `{"image": "img:1", ` + ready + `, "startup_check": {"http_get": {"path": "/s"}, "failure_threshold": 30}, "liveness_check": {"http_get": {"path": "/health"}}}`,
			observed:   []Observed{obs("svc-0", 0, service.Liveness, Probe{Succeeded: true, FirstSuccess: 41 * time.Second, FailuresBeforeSuccess: 3})},
		},
		{
			name:       "killed by liveness before it ever passed",
			containers: `{"image": "img:1", ` + ready + `, "liveness_check": {"tcp_socket": {}, "period_seconds": 2, "failure_threshold": 3}}`,
			observed: []Observed{
				obs("svc-0", 0, service.Liveness, Probe{KilledBeforeSuccess: 1}),
				obs("svc-1", 0, service.Liveness, Probe{KilledBeforeSuccess: 4, FailingNow: 2}),
			},
			want: []string{"c0 svc-1 slow-start: the liveness check (initial delay 0 s, period 2 s, failure threshold 3) killed the container 4 times before it ever passed (on svc-1): it kills a start slower than 4 to 6 s, here as on EAS; add a startup_check with period 2 and a failure_threshold that covers the start (30 allows 60 s), then run easlocal advise again for the measured time"},
		},
		{
			name:       "the slowest instance is quoted, and earlier kills are mentioned",
			containers: `{"image": "img:1", ` + ready + `, "liveness_check": {"http_get": {"path": "/health"}, "period_seconds": 2, "failure_threshold": 4}}`,
			observed: []Observed{
				obs("svc-0", 0, service.Liveness, Probe{Succeeded: true, FirstSuccess: 2100 * time.Millisecond, FailuresBeforeSuccess: 1}),
				obs("svc-1", 0, service.Liveness, Probe{Succeeded: true, FirstSuccess: 4100 * time.Millisecond, FailuresBeforeSuccess: 2, KilledBeforeSuccess: 1}),
			},
			want: []string{"c0 svc-1 slow-start: startup took 4.1 s (the liveness check failed 2 times before it first passed, on svc-1); on EAS your liveness check (initial delay 0 s, period 2 s, failure threshold 4) would kill it if the start took longer than 6 to 8 s: add a startup_check with period 2 and failure_threshold ≥ 4 (it already killed the container once before it passed, on svc-1)"},
		},
		{
			name:       "startup_check used two thirds of its failures",
			containers: `{"image": "img:1", ` + ready + `, "startup_check": {"http_get": {"path": "/s"}, "period_seconds": 1, "failure_threshold": 15}}`,
			observed:   []Observed{obs("svc-0", 0, service.Startup, Probe{Succeeded: true, FirstSuccess: 10200 * time.Millisecond, FailuresBeforeSuccess: 10})},
			want:       []string{"c0 svc-0 startup-budget: startup took 10 s (on svc-0): the startup_check (initial delay 0 s, period 1 s, failure threshold 15) passed after 10 of the 15 failures it allows; on EAS, where pulls and loading are often slower, raise failure_threshold to ≥ 21"},
		},
		{
			name:       "startup_check with room to spare",
			containers: `{"image": "img:1", ` + ready + `, "startup_check": {"http_get": {"path": "/s"}, "period_seconds": 1, "failure_threshold": 15}}`,
			observed:   []Observed{obs("svc-0", 0, service.Startup, Probe{Succeeded: true, FirstSuccess: 9 * time.Second, FailuresBeforeSuccess: 9})},
		},
		{
			name:       "startup_check killed it before it passed",
			containers: `{"image": "img:1", ` + ready + `, "startup_check": {"http_get": {"path": "/s"}, "period_seconds": 2, "failure_threshold": 5}}`,
			observed:   []Observed{obs("svc-0", 0, service.Startup, Probe{KilledBeforeSuccess: 2})},
			want:       []string{"c0 svc-0 startup-budget: the startup_check (initial delay 0 s, period 2 s, failure threshold 5) killed the container 2 times before it ever passed (on svc-0): it allows a start of 8 to 10 s, here as on EAS; raise failure_threshold (20 allows 40 s)"},
		},
		{
			name:       "readiness p99 close to the timeout",
			containers: `{"image": "img:1", ` + ready + `}`,
			observed:   []Observed{obs("svc-0", 0, service.Readiness, Probe{Runs: 50, Latency: prober.Latency{Samples: 50, P99: 800 * time.Millisecond}})},
			want:       []string{"c0 svc-0 latency: readiness probe p99 latency 0.8 s with timeout 1 s, on svc-0: raise timeout_seconds of health_check to ≥ 2"},
		},
		{
			name:       "p99 well under the timeout, or too few samples",
			containers: `{"image": "img:1", ` + ready + `, "liveness_check": {"http_get": {"path": "/h"}, "timeout_seconds": 3}}`,
			observed: []Observed{
				obs("svc-0", 0, service.Readiness, Probe{Runs: 50, Latency: prober.Latency{Samples: 50, P99: 400 * time.Millisecond}}),
				obs("svc-1", 0, service.Readiness, Probe{Runs: 5, Latency: prober.Latency{Samples: 5, P99: 900 * time.Millisecond}}),
				obs("svc-1", 0, service.Liveness, Probe{Runs: 50, Latency: prober.Latency{Samples: 50, P99: 1400 * time.Millisecond}}),
			},
		},
		{
			name:       "timed-out runs count even with few samples",
			containers: `{"image": "img:1", ` + ready + `, "liveness_check": {"exec": {"command": ["check"]}, "timeout_seconds": 2}}`,
			observed:   []Observed{obs("svc-0", 0, service.Liveness, Probe{Runs: 4, TimedOut: 1, Latency: prober.Latency{Samples: 4, P99: 2 * time.Second}, Succeeded: true})},
			want:       []string{"c0 svc-0 latency: liveness probe p99 latency 2 s with timeout 2 s (1 of 4 runs timed out), on svc-0: raise timeout_seconds of liveness_check to ≥ 4"},
		},
		{
			name:       "no readiness check, second container",
			containers: `{"image": "img:1", ` + ready + `}, {"image": "img:2", "port": 8001}`,
			want:       []string{"c1  no-readiness: no readiness check (health_check): EAS only checks that the port accepts connections and sends traffic as soon as it opens, before the app may be able to serve: add a health_check on a path that answers once it can"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, a := range Advise(svc(t, tc.containers), tc.observed) {
				got = append(got, fmt.Sprintf("%s %s %s: %s", a.Container, a.Instance, a.Rule, a.Message))
				if a.Rule != NoReadiness && !a.Risk {
					t.Errorf("%s advice is not marked as a risk", a.Rule)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("advice:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSecs(t *testing.T) {
	for d, want := range map[time.Duration]string{
		41 * time.Second: "41 s", 800 * time.Millisecond: "0.8 s", 4 * time.Second: "4 s",
		4140 * time.Millisecond: "4.1 s", 10400 * time.Millisecond: "10 s", 0: "0 s",
	} {
		if got := secs(d); got != want {
			t.Errorf("secs(%v) = %q, want %q", d, got, want)
		}
	}
}
