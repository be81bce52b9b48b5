package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/loadgen"
)

// The update phase's service: 3 instances rolled one at a time (surge 1,
// none unavailable), old ones told with SIGTERM and given 3 s, so a round
// takes seconds rather than EAS's default 30 s per old instance.
const (
	updInstances      = 3
	updMaxSurge       = 1
	updMaxUnavailable = 0
	updGrace          = 3 // seconds
	updMetadata       = `"rolling_strategy": {"max_surge": 1, "max_unavailable": 0}, "rpc": {"enable_sigterm": true}, "eas.termination_grace_period": 3`
	// updBefore and updAfter are the steady load before the update starts
	// (after the warm-up) and after it returned.
	updBefore = 2 * time.Second
	updAfter  = 2 * time.Second
	// updSample is how often the bounds are read from the status.
	updSample = 100 * time.Millisecond
)

// updateRound is one `easlocal update` under load.
type updateRound struct {
	Revision int
	// Took is how long `easlocal update` ran (it returns once every
	// instance runs the new revision); Rollout is the service's own
	// Started→Finished of the update.
	Took, Rollout time.Duration
	// Requests were recorded from updBefore before the update until
	// updAfter after it returned.
	Requests int
	Failed   int
	Codes    map[string]int // failure kinds
	Max      time.Duration  // slowest request
	Bounds   updateBounds
}

// updateBounds are the extremes of the status samples taken while the
// update ran and during the load after it.
type updateBounds struct {
	Samples int
	// MaxLive is the most instances that were not terminating (what
	// max_surge limits); MaxAll counts terminating ones too.
	MaxLive, MaxAll int
	// MinReady is the fewest ready instances that were not terminating
	// (what max_unavailable limits); MinEndpoints the fewest endpoints
	// the gateway had.
	MinReady, MinEndpoints int
}

// observe folds one sample into b.
func (b *updateBounds) observe(st admin.ServiceStatus, endpoints int) {
	live, ready := st.LiveReady()
	if b.Samples == 0 {
		b.MinReady, b.MinEndpoints = ready, endpoints
	}
	b.Samples++
	b.MaxLive, b.MaxAll = max(b.MaxLive, live), max(b.MaxAll, len(st.Instances))
	b.MinReady, b.MinEndpoints = min(b.MinReady, ready), min(b.MinEndpoints, endpoints)
}

type updateResult struct {
	Clients, Instances       int
	MaxSurge, MaxUnavailable int
	Grace, Before, After     time.Duration
	SamplePeriod             time.Duration
	Rounds                   []updateRound
}

// runUpdate starts the service once and, per round, puts steady load on
// the gateway, runs `easlocal update` to a file with another VERSION env
// value, keeps the load updAfter longer and counts what failed, while a
// sampler reads the status every updSample.
func runUpdate(ctx context.Context, e *easlocal, tmp string, clients, rounds int) (*updateResult, error) {
	const name = "bench_upd"
	file, err := writeServiceWith(tmp, name, updInstances, updMetadata, "1")
	if err != nil {
		return nil, err
	}
	logf("update: easlocal up -d %s (%d instances)", file, updInstances)
	if err := e.upDetached(ctx, file, updInstances, "127.0.0.1:0"); err != nil {
		return nil, err
	}
	defer e.down(name)
	d, err := e.driver(name)
	if err != nil {
		return nil, err
	}
	gw, err := e.gatewayAddr(name)
	if err != nil {
		return nil, err
	}
	res := &updateResult{Clients: clients, Instances: updInstances, MaxSurge: updMaxSurge, MaxUnavailable: updMaxUnavailable,
		Grace: updGrace * time.Second, Before: updBefore, After: updAfter, SamplePeriod: updSample}
	for round := range rounds {
		version := fmt.Sprint(round + 2)
		next, err := writeServiceWith(filepath.Join(tmp, "v"+version), name, updInstances, updMetadata, version)
		if err != nil {
			return res, err
		}
		r, err := updateOnce(ctx, e, d, name, gw, next, clients)
		if err != nil {
			return res, fmt.Errorf("round %d: %w", round+1, err)
		}
		logf("update: round %d: revision %d in %v; %d of %d requests failed; at most %d instances (%d with terminating ones), at least %d ready, %d endpoints (%d samples)",
			round+1, r.Revision, r.Took.Round(time.Millisecond), r.Failed, r.Requests, r.Bounds.MaxLive, r.Bounds.MaxAll, r.Bounds.MinReady, r.Bounds.MinEndpoints, r.Bounds.Samples)
		res.Rounds = append(res.Rounds, r)
		if err := waitSettled(ctx, d, updInstances, r.Revision, time.Minute); err != nil {
			return res, err
		}
	}
	return res, nil
}

func updateOnce(ctx context.Context, e *easlocal, d *admin.Driver, name, gw, file string, clients int) (updateRound, error) {
	var r updateRound
	stopLoad := steadyLoad(ctx, "update", gw, name, clients)
	defer stopLoad()
	if err := sleepCtx(ctx, time.Second+updBefore); err != nil {
		return r, err
	}

	// The sampler owns bounds until samplerDone is closed.
	var bounds updateBounds
	sctx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	var once sync.Once
	endSampler := func() { once.Do(func() { stopSampler(); <-samplerDone }) }
	defer endSampler()
	go func() {
		defer close(samplerDone)
		for sctx.Err() == nil {
			qctx, cancel := context.WithTimeout(sctx, 5*time.Second)
			st, err := d.Status(qctx)
			var eps []admin.Endpoint
			if err == nil {
				eps, err = d.Endpoints(qctx)
			}
			cancel()
			if err == nil {
				bounds.observe(st, len(eps))
			}
			if sleepCtx(sctx, updSample) != nil {
				return
			}
		}
	}()

	logf("update: easlocal update %s %s under %d clients", name, file, clients)
	t0 := time.Now()
	out, err := e.run(ctx, 5*time.Minute, "update", name, file, "--timeout", "2m")
	r.Took = time.Since(t0)
	if err != nil {
		return r, err
	}
	if err := sleepCtx(ctx, updAfter); err != nil {
		return r, err
	}
	lr := stopLoad()
	endSampler()
	r.Bounds = bounds
	if lr == nil {
		return r, fmt.Errorf("the load generator failed")
	}
	for _, rec := range lr.Records {
		r.Requests++
		r.Max = max(r.Max, rec.Latency)
		if rec.Outcome != loadgen.OK {
			r.Failed++
			if r.Codes == nil {
				r.Codes = map[string]int{}
			}
			r.Codes[outcomeName(rec)]++
		}
	}
	st, err := d.Status(ctx)
	if err != nil {
		return r, err
	}
	if st.Update == nil || st.Update.Phase != admin.UpdateComplete {
		return r, fmt.Errorf("`easlocal update` returned but the update is %+v; its output:\n%s", st.Update, out)
	}
	r.Revision = st.Update.Revision
	r.Rollout = st.Update.Finished.Sub(st.Update.Started)
	return r, nil
}

// waitSettled waits until the service runs exactly n ready instances of
// revision rev (the old ones have finished terminating), so the next
// round starts from rest.
func waitSettled(ctx context.Context, d *admin.Driver, n, rev int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var st admin.ServiceStatus
	for time.Now().Before(deadline) {
		var err error
		if st, err = d.Status(ctx); err != nil {
			return err
		}
		ok := len(st.Instances) == n
		for _, in := range st.Instances {
			ok = ok && in.Ready && in.Revision == rev
		}
		if ok {
			return nil
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	var got []string
	for _, in := range st.Instances {
		got = append(got, fmt.Sprintf("%s revision %d %s ready=%t", in.Name, in.Revision, in.State, in.Ready))
	}
	return fmt.Errorf("after the update the service did not settle to %d ready instances of revision %d within %v: %s", n, rev, timeout, strings.Join(got, "; "))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (u *updateResult) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d instances of the example image, rolling_strategy max_surge %d / max_unavailable %d, eas.termination_grace_period %v with rpc.enable_sigterm; per round, %d closed-loop clients through the gateway (1 s warm-up, %v before the update, %v after `easlocal update` returned), the update changes an env value; status and endpoints sampled every %v from the update's start until the load stopped. Times are medians over the rounds (range in brackets); counts are totals over the rounds.\n\n",
		u.Instances, u.MaxSurge, u.MaxUnavailable, u.Grace, u.Clients, u.Before, u.After, u.SamplePeriod)
	b.WriteString("| round | revision | `update` took | rollout (service) | requests | failed | max latency | most instances (with terminating) | fewest ready | fewest endpoints | samples |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var took, rollout []float64
	var reqs, failed int
	var mx time.Duration
	bounds := updateBounds{MinReady: 1 << 30, MinEndpoints: 1 << 30}
	codes := map[string]int{}
	for i, r := range u.Rounds {
		fmt.Fprintf(&b, "| %d | %d | %.2f s | %.2f s | %d | %d | %v | %d (%d) | %d | %d | %d |\n", i+1, r.Revision, r.Took.Seconds(), r.Rollout.Seconds(),
			r.Requests, r.Failed, r.Max.Round(time.Millisecond), r.Bounds.MaxLive, r.Bounds.MaxAll, r.Bounds.MinReady, r.Bounds.MinEndpoints, r.Bounds.Samples)
		took, rollout = append(took, r.Took.Seconds()), append(rollout, r.Rollout.Seconds())
		reqs, failed, mx = reqs+r.Requests, failed+r.Failed, max(mx, r.Max)
		for k, v := range r.Codes {
			codes[k] += v
		}
		bounds.Samples += r.Bounds.Samples
		bounds.MaxLive, bounds.MaxAll = max(bounds.MaxLive, r.Bounds.MaxLive), max(bounds.MaxAll, r.Bounds.MaxAll)
		bounds.MinReady, bounds.MinEndpoints = min(bounds.MinReady, r.Bounds.MinReady), min(bounds.MinEndpoints, r.Bounds.MinEndpoints)
	}
	if len(u.Rounds) == 0 {
		b.WriteString("\nNo round completed.\n")
		return b.String()
	}
	fail := fmt.Sprint(failed)
	for _, k := range slices.Sorted(maps.Keys(codes)) {
		fail += fmt.Sprintf(" (%d× %s)", codes[k], k)
	}
	limitLive, limitReady := u.Instances+u.MaxSurge, u.Instances-u.MaxUnavailable
	held := func(ok bool) string {
		if ok {
			return "held"
		}
		return "NOT held"
	}
	fmt.Fprintf(&b, "\n%d rounds: `update` took %.2f s [%s] (the service's rollout %.2f s [%s]); %s of %d requests failed, slowest %v. Bounds over %d samples: at most %d instances not terminating (limit desired + max_surge = %d: %s; %d counting terminating ones), at least %d ready (limit desired − max_unavailable = %d: %s) and %d endpoints.\n",
		len(u.Rounds), median(took), spread(took), median(rollout), spread(rollout), fail, reqs, mx.Round(time.Millisecond),
		bounds.Samples, bounds.MaxLive, limitLive, held(bounds.MaxLive <= limitLive), bounds.MaxAll,
		bounds.MinReady, limitReady, held(bounds.MinReady >= limitReady && bounds.MinEndpoints >= limitReady), bounds.MinEndpoints)
	return b.String()
}
