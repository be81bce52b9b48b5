package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// sample is one reading of easlocal and the load.
type sample struct {
	At         time.Duration
	RSSKB      int64   // -1: unreadable
	Goroutines float64 // -1: unreadable
	Restarts   float64 // sum of easlocal_container_restarts_total
	Ready      float64 // sum of easlocal_instance_ready
	Endpoints  float64
	Requests   int64 // client requests so far
	Failed     int64
	Err        string
}

const sampleHeader = "t(s)\trss_kb\tgoroutines\trestarts\tready\tendpoints\trequests\tfailed"

func (s sample) row() string {
	r := fmt.Sprintf("%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%d",
		int(s.At.Seconds()), s.RSSKB, s.Goroutines, s.Restarts, s.Ready, s.Endpoints, s.Requests, s.Failed)
	if s.Err != "" {
		r += "\t" + s.Err
	}
	return r
}

// report is the outcome of one soak.
type report struct {
	Name     string
	PID      int
	Machine  string
	Duration time.Duration
	Desired  int
	Samples  []sample

	Flaps, Kills, LiveFails, FaultErrs int

	Final     final
	SettleErr error

	Requests, Failed int64
	LastErr          string
	GatewayRequests  float64
	GatewayNon2xx    float64
	GatewayRetries   float64

	MaxRSSGrowth       float64
	MaxGoroutineGrowth float64

	Cleanup cleanupReport
}

// verdict is one check.
type verdict struct {
	Name   string
	Pass   bool
	Detail string
}

// flat compares the median of the last quarter of xs with the median of
// the second quarter (the first is warm-up: caches, pools and connections
// filling). It needs at least 8 values.
func flat(xs []float64) (second, last float64, ok bool) {
	n := len(xs)
	if n < 8 {
		return 0, 0, false
	}
	return median(xs[n/4 : n/2]), median(xs[3*n/4:]), true
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// series picks one field of the readable samples.
func series(ss []sample, f func(sample) float64) []float64 {
	var out []float64
	for _, s := range ss {
		if v := f(s); v >= 0 {
			out = append(out, v)
		}
	}
	return out
}

func (r *report) verdicts() []verdict {
	var vs []verdict
	f := r.Final
	acc := verdict{Name: "every instance accounted for", Pass: r.SettleErr == nil && f.accounted(r.Desired),
		Detail: fmt.Sprintf("desired %d (service says %d): %d instances, %d running, %d ready, %d endpoints",
			r.Desired, f.Desired, f.Instances, f.Running, f.Ready, f.Endpoints)}
	if len(f.NotReady) > 0 {
		acc.Detail += "; not ready: " + strings.Join(f.NotReady, ", ")
	}
	if r.SettleErr != nil {
		acc.Detail += "; " + r.SettleErr.Error()
	}
	vs = append(vs, acc)

	want := r.Kills + r.LiveFails
	vs = append(vs, verdict{Name: "restarts match the faults", Pass: f.Restarts == want,
		Detail: fmt.Sprintf("%d restarts; %d kills + %d liveness failures = %d", f.Restarts, r.Kills, r.LiveFails, want)})

	rss := series(r.Samples, func(s sample) float64 { return float64(s.RSSKB) })
	if a, b, ok := flat(rss); ok {
		g := (b - a) / a
		vs = append(vs, verdict{Name: "memory flat", Pass: g < r.MaxRSSGrowth,
			Detail: fmt.Sprintf("RSS median %.1f MiB (2nd quarter) -> %.1f MiB (last quarter): %+.1f%% (limit %+.0f%%); min %.1f, max %.1f MiB",
				a/1024, b/1024, 100*g, 100*r.MaxRSSGrowth, slices.Min(rss)/1024, slices.Max(rss)/1024)})
	} else {
		vs = append(vs, verdict{Name: "memory flat", Detail: fmt.Sprintf("only %d samples, need 8: run longer", len(rss))})
	}
	gor := series(r.Samples, func(s sample) float64 { return s.Goroutines })
	if a, b, ok := flat(gor); ok {
		vs = append(vs, verdict{Name: "goroutines flat", Pass: b-a < r.MaxGoroutineGrowth,
			Detail: fmt.Sprintf("median %.0f (2nd quarter) -> %.0f (last quarter): %+.0f (limit %+.0f); min %.0f, max %.0f",
				a, b, b-a, r.MaxGoroutineGrowth, slices.Min(gor), slices.Max(gor))})
	} else {
		vs = append(vs, verdict{Name: "goroutines flat", Detail: fmt.Sprintf("only %d samples, need 8: run longer", len(gor))})
	}

	c := r.Cleanup
	var cd []string
	if c.DownErr != nil {
		cd = append(cd, "down failed: "+c.DownErr.Error())
	} else {
		cd = append(cd, "second down: "+c.SecondDown)
	}
	if len(c.Netns) > 0 {
		cd = append(cd, "netns left: "+strings.Join(c.Netns, " "))
	}
	if len(c.Shims) > 0 {
		cd = append(cd, fmt.Sprintf("shims left: %v", c.Shims))
	}
	if c.Alive {
		cd = append(cd, fmt.Sprintf("easlocal pid %d still running", r.PID))
	}
	vs = append(vs, verdict{Name: "nothing left after down", Pass: c.ok(), Detail: strings.Join(cd, "; ")})
	return vs
}

func (r *report) passed() bool {
	for _, v := range r.verdicts() {
		if !v.Pass {
			return false
		}
	}
	return true
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nsoak %s: %s of faults, easlocal pid %d\nmachine: %s\n", r.Name, r.Duration, r.PID, r.Machine)
	fmt.Fprintf(w, "faults: %d readiness flaps, %d kills, %d liveness failures; %d fault requests failed\n",
		r.Flaps, r.Kills, r.LiveFails, r.FaultErrs)
	rate := 0.0
	if r.Requests > 0 {
		rate = 100 * float64(r.Failed) / float64(r.Requests)
	}
	fmt.Fprintf(w, "load: %d requests through the gateway, %d failed (%.3f%%)", r.Requests, r.Failed, rate)
	if r.LastErr != "" {
		fmt.Fprintf(w, ", last at %s", r.LastErr)
	}
	fmt.Fprintf(w, "\ngateway metrics: %.0f requests, %.0f not 2xx, %.0f retries\n", r.GatewayRequests, r.GatewayNon2xx, r.GatewayRetries)
	fmt.Fprintf(w, "samples (%d, every row):\n%s\n", len(r.Samples), sampleHeader)
	for _, s := range r.Samples {
		fmt.Fprintln(w, s.row())
	}
	fmt.Fprintln(w)
	for _, v := range r.verdicts() {
		mark := "PASS"
		if !v.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s: %s\n", mark, v.Name, v.Detail)
	}
	if r.passed() {
		fmt.Fprintln(w, "soak passed")
	} else {
		fmt.Fprintln(w, "soak FAILED")
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for line := range strings.SplitSeq(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
