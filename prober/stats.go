package prober

import (
	"sync"
	"time"

	"github.com/easlocal/easlocal/service"
)

// Outcome labels a probe run in Stats, with the kubelet's metric values
// (prober_probe_total{result=...}).
type Outcome string

const (
	OutcomeSuccessful Outcome = "successful" // includes 3xx-with-warning
	OutcomeFailed     Outcome = "failed"
	OutcomeUnknown    Outcome = "unknown" // could not be run (discarded)
)

// DurationBuckets are the upper bounds of Stat.Buckets (Prometheus' default
// histogram buckets).
var DurationBuckets = []time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second,
}

// StatKey identifies one series.
type StatKey struct {
	Kind    service.ProbeKind
	Outcome Outcome
}

// Stat counts probe runs and their durations (retries of a probe that
// could not be run make one run).
type Stat struct {
	Count uint64
	Sum   time.Duration
	// Buckets[i] is how many runs took at most DurationBuckets[i]
	// (cumulative, like a Prometheus histogram's "le" buckets).
	Buckets []uint64
}

// Stats is a snapshot; the caller owns it.
type Stats map[StatKey]Stat

type statsRecorder struct {
	mu sync.Mutex
	m  map[StatKey]*Stat
}

func (r *statsRecorder) observe(k service.ProbeKind, o Outcome, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[StatKey]*Stat)
	}
	key := StatKey{k, o}
	s := r.m[key]
	if s == nil {
		s = &Stat{Buckets: make([]uint64, len(DurationBuckets))}
		r.m[key] = s
	}
	s.Count++
	s.Sum += d
	for i, b := range DurationBuckets {
		if d <= b {
			s.Buckets[i]++
		}
	}
}

func (r *statsRecorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(Stats, len(r.m))
	for k, s := range r.m {
		c := *s
		c.Buckets = append([]uint64(nil), s.Buckets...)
		out[k] = c
	}
	return out
}
