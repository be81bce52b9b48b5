package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/loadgen"
)

// faultResult is one fault injected under load.
type faultResult struct {
	Fault    string
	Instance string
	// Removal is from the fault to the instance's EndpointRemoved event
	// (negative: not seen).
	Removal time.Duration
	// Back is from the fault until all 3 endpoints were ready again.
	Back     time.Duration
	Requests int // requests started in the window [fault, back + settle]
	Failed   int
	Codes    map[string]int // failure kinds
	Slow     int            // requests that took 1 s or more
	Max      time.Duration
	// SlowStarts are when the slow requests started, after the fault.
	SlowStarts []time.Duration
	// Events are the instance's event reasons in the window, in order
	// (repeats folded).
	Events []string
}

type failoverResult struct {
	Clients  int
	Rounds   int
	Faults   []faultResult
	Outside  int // failed requests outside every fault window
	Total    int
	Bound    time.Duration // readiness period×failures + timeout
	Liveness time.Duration // liveness period×failures + timeout
}

// runFailover puts steady load on the gateway and injects the faults one
// after the other, each on another instance, waiting for all 3 endpoints
// between them.
func runFailover(ctx context.Context, e *easlocal, tmp string, clients, rounds int) (*failoverResult, error) {
	const name = "bench_fo"
	file, err := writeService(tmp, name, 3)
	if err != nil {
		return nil, err
	}
	logf("failover: easlocal up -d %s (3 instances)", file)
	// A short first back-off so a killed instance comes back quickly.
	if err := e.upDetached(ctx, file, 3, "127.0.0.1:19190", "--backoff-initial", "1s", "--backoff-max", "10s"); err != nil {
		return nil, err
	}
	defer e.down(name)
	st, err := e.ps(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(st.Instances) != 3 {
		return nil, fmt.Errorf("ps --json lists %d instances, want 3", len(st.Instances))
	}
	gw, err := e.gatewayAddr(name)
	if err != nil {
		return nil, err
	}
	ctl := &http.Client{Timeout: 5 * time.Second}
	post := func(ip, path string) error {
		resp, err := ctl.Post("http://"+ip+":8000"+path, "text/plain", nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("POST %s on %s: %s", path, ip, resp.Status)
		}
		return nil
	}

	stopLoad := steadyLoad(ctx, "failover", gw, name, clients)
	defer stopLoad()
	time.Sleep(3 * time.Second) // steady state

	type fault struct {
		name    string
		inject  func(ip, inst string) error
		restore func(ip, inst string) error // nil: easlocal restores it
	}
	faults := []fault{
		{"unready (POST /control/ready?ok=false)",
			func(ip, _ string) error { return post(ip, "/control/ready?ok=false") },
			func(ip, _ string) error { return post(ip, "/control/ready?ok=true") }},
		{"liveness failing (POST /control/live?ok=false)",
			func(ip, _ string) error { return post(ip, "/control/live?ok=false") }, nil},
		{"paused (easlocal pause)",
			func(_, inst string) error { _, err := e.run(ctx, 30*time.Second, "pause", name, inst); return err },
			func(_, inst string) error { _, err := e.run(ctx, 30*time.Second, "unpause", name, inst); return err }},
		{"killed (easlocal kill, SIGKILL)",
			func(_, inst string) error { _, err := e.run(ctx, 30*time.Second, "kill", name, inst); return err }, nil},
	}
	type window struct{ from, to time.Time }
	var windows []window
	res := &failoverResult{Clients: clients, Rounds: rounds,
		Bound:    time.Duration(probePeriod*readyFailures+probeTimeout) * time.Second,
		Liveness: time.Duration(probePeriod*livenessFailures+probeTimeout) * time.Second}
	for i := range rounds * len(faults) {
		f := faults[i%len(faults)]
		in := st.Instances[i%3]
		logf("failover: %s on %s (%s)", f.name, in.Name, in.IP)
		fr := faultResult{Fault: f.name, Instance: in.Name, Removal: -1}
		t0 := time.Now()
		if err := f.inject(in.IP, in.Name); err != nil {
			return nil, err
		}
		removed, err := waitRemoved(ctx, e, name, in.Name, t0, 30*time.Second)
		if err != nil {
			logf("failover: %v", err)
		} else {
			fr.Removal = removed.Sub(t0)
		}
		if f.restore != nil {
			time.Sleep(time.Second)
			if err := f.restore(in.IP, in.Name); err != nil {
				return nil, err
			}
		}
		if err := e.waitEndpoints(ctx, name, 3, 90*time.Second); err != nil {
			return nil, err
		}
		fr.Back = time.Since(t0)
		time.Sleep(2 * time.Second)
		windows = append(windows, window{t0, time.Now()})
		if evs, err := e.events(ctx, name); err == nil {
			for _, ev := range evs {
				if ev.Instance != in.Name || ev.Time.Before(t0) {
					continue
				}
				r := ev.Reason
				if n := len(fr.Events); n > 0 && strings.HasPrefix(fr.Events[n-1], r) {
					continue
				}
				fr.Events = append(fr.Events, fmt.Sprintf("%s +%v", r, ev.Time.Sub(t0).Round(10*time.Millisecond)))
			}
		}
		res.Faults = append(res.Faults, fr)
		logf("failover: removed after %v, all ready again after %v", fr.Removal, fr.Back)
	}
	r := stopLoad()
	if r == nil {
		return nil, fmt.Errorf("the load generator failed")
	}
	res.Total = len(r.Records)
	for _, rec := range r.Records {
		in := -1
		for i, w := range windows {
			if !rec.Start.Before(w.from) && rec.Start.Before(w.to) {
				in = i
			}
		}
		failed := rec.Outcome != loadgen.OK
		if in < 0 {
			if failed {
				res.Outside++
			}
			continue
		}
		fr := &res.Faults[in]
		fr.Requests++
		if rec.Latency >= time.Second {
			fr.Slow++
			fr.SlowStarts = append(fr.SlowStarts, rec.Start.Sub(windows[in].from))
		}
		fr.Max = max(fr.Max, rec.Latency)
		if failed {
			fr.Failed++
			if fr.Codes == nil {
				fr.Codes = map[string]int{}
			}
			fr.Codes[outcomeName(rec)]++
		}
	}
	return res, nil
}

func outcomeName(r loadgen.Record) string {
	switch r.Outcome {
	case loadgen.Status:
		return fmt.Sprintf("HTTP %d", r.Code)
	case loadgen.DialFail:
		return "connect failed"
	default:
		return "connection error"
	}
}

// waitRemoved polls `events --json` for the instance's EndpointRemoved
// event after t0 and returns its time.
func waitRemoved(ctx context.Context, e *easlocal, name, inst string, t0 time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		evs, err := e.events(ctx, name)
		if err != nil {
			return time.Time{}, err
		}
		for _, ev := range evs {
			if ev.Reason == events.EndpointRemoved && ev.Instance == inst && !ev.Time.Before(t0) {
				return ev.Time, nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("no EndpointRemoved event for %s within %v", inst, timeout)
}

func (f *failoverResult) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d closed-loop clients through the gateway for the whole run (%d requests); %d rounds of the 4 faults, each on another instance; window = fault until all 3 endpoints are ready again + 2 s. Times are medians over the rounds (range in brackets); counts are totals over the rounds.\n\n", f.Clients, f.Total, f.Rounds)
	b.WriteString("| fault | fault → EndpointRemoved | fault → 3 ready again | requests in windows | failed | ≥ 1 s | max latency |\n|---|---:|---:|---:|---:|---:|---:|\n")
	var names []string
	by := map[string][]faultResult{}
	for _, fr := range f.Faults {
		if by[fr.Fault] == nil {
			names = append(names, fr.Fault)
		}
		by[fr.Fault] = append(by[fr.Fault], fr)
	}
	for _, name := range names {
		var rem, back []float64
		var reqs, failed, slow int
		var mx time.Duration
		codes := map[string]int{}
		for _, fr := range by[name] {
			if fr.Removal >= 0 {
				rem = append(rem, fr.Removal.Seconds())
			}
			back = append(back, fr.Back.Seconds())
			reqs, failed, slow, mx = reqs+fr.Requests, failed+fr.Failed, slow+fr.Slow, max(mx, fr.Max)
			for k, v := range fr.Codes {
				codes[k] += v
			}
		}
		fail := fmt.Sprint(failed)
		for k, v := range codes {
			fail += fmt.Sprintf(" (%d× %s)", v, k)
		}
		fmt.Fprintf(&b, "| %s | %.2f s [%s], seen %d/%d | %.2f s [%s] | %d | %s | %d | %v |\n", name, median(rem), spread(rem), len(rem), len(by[name]),
			median(back), spread(back), reqs, fail, slow, mx.Round(time.Millisecond))
	}
	b.WriteString("\nWhat easlocal reported for the faulted instance (time after the fault), and when the slow requests started:\n\n")
	for _, fr := range f.Faults {
		var starts []string
		for _, d := range fr.SlowStarts {
			starts = append(starts, "+"+d.Round(10*time.Millisecond).String())
		}
		fmt.Fprintf(&b, "- %s on %s: %s", fr.Fault, fr.Instance, strings.Join(fr.Events, ", "))
		if len(starts) > 0 {
			fmt.Fprintf(&b, "; %d slow requests started at %s", len(starts), strings.Join(starts, " "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nFailed requests outside the fault windows: %d. Bound for a frozen instance with these probe settings (readiness period %ds × failure_threshold %d + timeout %ds): %v; liveness has the same settings, so a frozen instance is also restarted after about as long.\n",
		f.Outside, probePeriod, readyFailures, probeTimeout, f.Bound)
	return b.String()
}
