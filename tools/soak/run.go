package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/tick"
)

// soakRun is one soak in progress.
type soakRun struct {
	c   config
	e   *easlocal
	s   *session
	gw  string // gateway URL of the service's root
	ctl *http.Client

	// Load counters, written by the clients.
	ok      atomic.Int64
	failed  atomic.Int64
	lastErr atomic.Value // string: the latest failure, for the report

	// Fault counters and the busy map: the scheduler's goroutine only.
	kills, liveFails, flaps, faultErrs int
	busy                               map[string]time.Time // instance -> free again at
	restore                            map[string]string    // instance -> IP whose readiness must come back
}

func newRun(ctx context.Context, c config, e *easlocal) (*soakRun, error) {
	s, err := e.session()
	if err != nil {
		return nil, err
	}
	if s.Entry.GatewayURL == "" {
		return nil, fmt.Errorf("service %s has no gateway URL in its registry entry", e.name)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: c.clients, IdleConnTimeout: 30 * time.Second}
	return &soakRun{
		c: c, e: e, s: s,
		gw:      s.Entry.GatewayURL + "/api/predict/" + e.name + "/",
		ctl:     &http.Client{Timeout: 5 * time.Second, Transport: tr.Clone()},
		busy:    map[string]time.Time{},
		restore: map[string]string{},
	}, nil
}

// soak runs load, faults and sampling for the configured duration, lets
// the service settle, and returns the report (without the cleanup part).
func (r *soakRun) soak(ctx context.Context) *report {
	rep := &report{Name: r.e.name, PID: r.s.Entry.PID, Duration: r.c.duration, Desired: r.c.instances,
		MaxRSSGrowth: r.c.maxRSSGrowth, MaxGoroutineGrowth: r.c.maxGoroutineGrowth, Machine: machine()}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var load sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: r.c.clients, IdleConnTimeout: 30 * time.Second}}
	for range r.c.clients {
		load.Go(func() { r.client(loadCtx, client) })
	}

	phase, endPhase := context.WithTimeout(ctx, r.c.duration)
	defer endPhase()
	var bg sync.WaitGroup
	bg.Go(func() { r.faults(phase) })
	start := time.Now()
	bg.Go(func() { rep.Samples = r.sampler(ctx, phase, start) })
	bg.Wait()
	if ctx.Err() != nil {
		r.restoreAll()
		return rep
	}
	// Readiness switched off by a flap still in progress comes back.
	r.restoreAll()
	logf("faults over: %d readiness flaps, %d kills, %d liveness failures (%d fault requests failed); settling",
		r.flaps, r.kills, r.liveFails, r.faultErrs)
	rep.Flaps, rep.Kills, rep.LiveFails, rep.FaultErrs = r.flaps, r.kills, r.liveFails, r.faultErrs
	rep.Final, rep.SettleErr = r.settle(ctx, r.kills+r.liveFails)
	stopLoad()
	load.Wait()
	rep.Requests, rep.Failed = r.ok.Load()+r.failed.Load(), r.failed.Load()
	if v, ok := r.lastErr.Load().(string); ok {
		rep.LastErr = v
	}
	if m, err := r.s.metrics(ctx); err == nil {
		rep.GatewayRequests = m.sum("easlocal_gateway_requests_total")
		rep.GatewayNon2xx = rep.GatewayRequests - m.sumLabelPrefix("easlocal_gateway_requests_total", "code", "2")
		rep.GatewayRetries = m.sum("easlocal_gateway_retries_total")
	}
	return rep
}

// client is one closed-loop client: GET, read the whole answer, pause.
func (r *soakRun) client(ctx context.Context, hc *http.Client) {
	for ctx.Err() == nil {
		err := r.get(ctx, hc)
		if ctx.Err() != nil {
			return // a request cut by the end of the run is no failure
		}
		if err != nil {
			r.failed.Add(1)
			r.lastErr.Store(fmt.Sprintf("%s: %v", time.Now().UTC().Format("15:04:05"), err))
		} else {
			r.ok.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.c.pause):
		}
	}
}

func (r *soakRun) get(ctx context.Context, hc *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.gw, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", r.gw, resp.Status)
	}
	return nil
}

// faults injects the three faults on their schedules, offset so they do
// not all start together, each on a ready instance no other fault holds.
func (r *soakRun) faults(ctx context.Context) {
	start := time.Now()
	// Odd offsets, so the 10 s samples sometimes catch a fault under way.
	due := faultsDue{flap: 13 * time.Second, kill: 34 * time.Second, live: 47 * time.Second}
	tick.Every(ctx, 250*time.Millisecond, func() error {
		r.faultStep(ctx, time.Since(start), &due)
		return nil
	})
}

// faultsDue is when each fault is next due, as time since the faults
// began.
type faultsDue struct{ flap, kill, live time.Duration }

// faultStep ends the flaps that have lasted flapFor and, at now (since the
// faults began), injects the first fault in due that is due and moves its
// time on by its period; a fault that finds no free instance stays due.
func (r *soakRun) faultStep(ctx context.Context, now time.Duration, due *faultsDue) {
	for inst, ip := range r.restore {
		if time.Now().After(r.busy[inst].Add(-r.flapSettle())) {
			r.setReady(ctx, inst, ip, true)
			delete(r.restore, inst)
		}
	}
	switch {
	case now >= due.flap:
		if inst, ok := r.pick(ctx); ok {
			if r.setReady(ctx, inst.Name, inst.IP, false) {
				r.flaps++
				r.restore[inst.Name] = inst.IP
				r.busy[inst.Name] = time.Now().Add(r.c.flapFor + r.flapSettle())
			}
			due.flap += r.c.flapEvery
		}
	case now >= due.kill:
		if inst, ok := r.pick(ctx); ok {
			logf("fault: kill %s", inst.Name)
			if err := r.e.kill(ctx, inst.Name); err != nil {
				r.faultErr(ctx, err)
			} else {
				r.kills++
				r.busy[inst.Name] = time.Now().Add(30 * time.Second)
			}
			due.kill += r.c.killEvery
		}
	case now >= due.live:
		if inst, ok := r.pick(ctx); ok {
			logf("fault: liveness of %s fails", inst.Name)
			if err := r.post(ctx, inst.IP, "/control/live?ok=false"); err != nil {
				r.faultErr(ctx, err)
			} else {
				r.liveFails++
				r.busy[inst.Name] = time.Now().Add(30 * time.Second)
			}
			due.live += r.c.liveEvery
		}
	}
}

// flapSettle is how long an instance stays off limits after its flap
// ended, so it is back in the rotation before another fault takes it.
func (r *soakRun) flapSettle() time.Duration { return 5 * time.Second }

func (r *soakRun) faultErr(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	r.faultErrs++
	logf("fault request failed: %v", err)
}

func (r *soakRun) setReady(ctx context.Context, inst, ip string, ok bool) bool {
	if ok {
		ctx = context.Background() // readiness must come back even at the end
	} else {
		logf("fault: %s unready for %s", inst, r.c.flapFor)
	}
	if err := r.post(ctx, ip, fmt.Sprintf("/control/ready?ok=%t", ok)); err != nil {
		r.faultErr(ctx, fmt.Errorf("%s: %w", inst, err))
		return false
	}
	return true
}

// restoreAll ends the flaps still in progress.
func (r *soakRun) restoreAll() {
	for inst, ip := range r.restore {
		r.setReady(context.Background(), inst, ip, true)
		delete(r.restore, inst)
	}
}

// pick returns a running, ready instance that no fault holds, the least
// recently faulted first so faults spread over every instance.
func (r *soakRun) pick(ctx context.Context) (admin.InstanceStatus, bool) {
	st, err := r.s.Status(ctx)
	if err != nil {
		r.faultErr(ctx, fmt.Errorf("status: %w", err))
		return admin.InstanceStatus{}, false
	}
	var best admin.InstanceStatus
	var bestFree time.Time
	found := false
	for _, in := range st.Instances {
		free := r.busy[in.Name]
		if !in.Ready || in.State != "Running" || in.IP == "" || time.Now().Before(free) {
			continue
		}
		if !found || free.Before(bestFree) {
			best, bestFree, found = in, free, true
		}
	}
	return best, found
}

// post sends a control request straight to an instance's example app.
func (r *soakRun) post(ctx context.Context, ip, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ip+":8000"+path, strings.NewReader(""))
	if err != nil {
		return err
	}
	resp, err := r.ctl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s on %s: %s", path, ip, resp.Status)
	}
	return nil
}

// sampler takes a sample at once and then every period until phase
// ends; the readings themselves use ctx, so the last one is not cut short
// by the end of the phase.
func (r *soakRun) sampler(ctx, phase context.Context, start time.Time) []sample {
	var out []sample
	fmt.Println(sampleHeader)
	takeOne := func() error {
		s := r.take(ctx, time.Since(start))
		out = append(out, s)
		fmt.Println(s.row())
		return nil
	}
	takeOne()
	tick.Every(phase, r.c.sample, takeOne)
	return out
}

func (r *soakRun) take(ctx context.Context, at time.Duration) sample {
	s := sample{At: at, RSSKB: -1, Goroutines: -1, Requests: r.ok.Load() + r.failed.Load(), Failed: r.failed.Load()}
	if kb, err := rssKB(r.s.Entry.PID); err == nil {
		s.RSSKB = kb
	} else {
		s.Err = err.Error()
	}
	m, err := r.s.metrics(ctx)
	if err != nil {
		s.Restarts, s.Ready, s.Endpoints = -1, -1, -1
		s.Err = err.Error()
		return s
	}
	if g, ok := m.value("go_goroutines"); ok {
		s.Goroutines = g
	}
	s.Restarts = m.sum("easlocal_container_restarts_total")
	s.Ready = m.sum("easlocal_instance_ready")
	s.Endpoints = m.sum("easlocal_endpoints")
	return s
}

// settle waits until every desired instance runs, is ready and is in the
// endpoint list, and the restarts reach the expected count (or settle
// runs out); it returns the last status seen.
func (r *soakRun) settle(ctx context.Context, wantRestarts int) (final, error) {
	deadline := time.Now().Add(r.c.settle)
	for {
		f, err := r.final(ctx)
		if err == nil && f.accounted(r.c.instances) && f.Restarts >= wantRestarts {
			return f, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = errNotSettled
			}
			return f, fmt.Errorf("after %s: %w", r.c.settle, err)
		}
		time.Sleep(time.Second)
	}
}

// final is the service's state at the end, from ps and the endpoints.
type final struct {
	Desired, Instances, Running, Ready, Endpoints, Restarts int
	NotReady                                                []string
}

func (f final) accounted(desired int) bool {
	return f.Desired == desired && f.Instances == desired && f.Running == desired &&
		f.Ready == desired && f.Endpoints == desired
}

func (r *soakRun) final(ctx context.Context) (final, error) {
	var f final
	st, err := r.s.Status(ctx)
	if err != nil {
		return f, err
	}
	eps, err := r.s.Endpoints(ctx)
	if err != nil {
		return f, err
	}
	f.Desired, f.Instances, f.Endpoints = st.Desired, len(st.Instances), len(eps)
	for _, in := range st.Instances {
		if in.State == "Running" {
			f.Running++
		}
		if in.Ready {
			f.Ready++
		} else {
			f.NotReady = append(f.NotReady, in.Name+" ("+in.State+")")
		}
		for _, c := range in.Containers {
			f.Restarts += c.Restarts
		}
	}
	return f, nil
}
