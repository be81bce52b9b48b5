package scenario

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/loadgen"
)

// fakeService is three instances whose behaviour follows the faults:
// a killed instance is not ready for downFor, then ready with one more
// restart; a paused or blackholed one is not ready until cleared. The
// loader's requests fail while an instance is down and requests reach it
// (every third request, round robin). Everything is guarded by mu; time
// is synctest's.
type fakeService struct {
	mu       sync.Mutex
	start    time.Time
	downFor  time.Duration
	down     map[string]time.Time // instance -> until (zero: until cleared)
	restarts map[string]int
	evs      []events.Event
	calls    []string // "+4s kill demo-1", "+10s clear pause:demo-2"
	next     int
}

var fakeNames = []string{"demo-1", "demo-2", "demo-3"}

func newFake(downFor time.Duration) *fakeService {
	return &fakeService{start: time.Now(), downFor: downFor, down: map[string]time.Time{}, restarts: map[string]int{}}
}

func (f *fakeService) at() string { return fmt.Sprintf("+%s", time.Since(f.start)) }

func (f *fakeService) isDown(name string) bool {
	until, ok := f.down[name]
	if !ok {
		return false
	}
	if !until.IsZero() && !time.Now().Before(until) {
		delete(f.down, name)
		f.restarts[name]++
		f.event(name, events.EndpointAdded)
		return false
	}
	return true
}

func (f *fakeService) event(instance, reason string) {
	f.next++
	f.evs = append(f.evs, events.Event{Seq: f.next, Time: time.Now(), Instance: instance, Reason: reason})
}

func (f *fakeService) Status(context.Context) (admin.ServiceStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := admin.ServiceStatus{Name: "demo", Desired: 3}
	for _, n := range fakeNames {
		st.Instances = append(st.Instances, admin.InstanceStatus{Name: n, Ready: !f.isDown(n), Restarts: f.restarts[n]})
	}
	return st, nil
}

func (f *fakeService) Endpoints(context.Context) ([]admin.Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var eps []admin.Endpoint
	for _, n := range fakeNames {
		if !f.isDown(n) {
			eps = append(eps, admin.Endpoint{Instance: n})
		}
	}
	return eps, nil
}

func (f *fakeService) Events(_ context.Context, since int) ([]events.Event, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []events.Event
	for _, e := range f.evs {
		if e.Seq >= since {
			out = append(out, e)
		}
	}
	return out, f.next + 1, nil
}

func (f *fakeService) Supports(string) bool { return true }

func (f *fakeService) Inject(_ context.Context, flt Fault, instance string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, f.at()+" "+flt.Kind+" "+instance)
	f.event(instance, events.EndpointRemoved)
	switch flt.Kind {
	case Kill:
		f.down[instance] = time.Now().Add(f.downFor)
		return "", nil
	case Exit:
		return "", fmt.Errorf("exit is not available here")
	}
	f.down[instance] = time.Time{}
	return flt.Kind + ":" + instance, nil
}

func (f *fakeService) Clear(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, f.at()+" clear "+id)
	_, name, _ := strings.Cut(id, ":")
	delete(f.down, name)
	f.event(name, events.EndpointAdded)
	return nil
}

func (f *fakeService) ClearAll(context.Context) error { return nil }

// load sends 10 requests a second for d, round robin over the three
// instances; one sent to a down instance fails.
func (f *fakeService) load(d time.Duration) Loader {
	return func(ctx context.Context) (*loadgen.Result, error) {
		res := &loadgen.Result{Start: time.Now()}
		// Requests at +0.05s, +0.15s, ...: never at the same instant as
		// a fault or a sample, whose order would then be arbitrary.
		sleepUntil := func(t time.Time) bool {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(time.Until(t)):
				return true
			}
		}
		for k := range int(d / (100 * time.Millisecond)) {
			if !sleepUntil(res.Start.Add(50*time.Millisecond + time.Duration(k)*100*time.Millisecond)) {
				return res, nil
			}
			name := fakeNames[k%3]
			f.mu.Lock()
			rec := loadgen.Record{Start: time.Now(), Latency: 5 * time.Millisecond, Code: 200}
			if f.isDown(name) {
				rec = loadgen.Record{Start: time.Now(), Latency: 50 * time.Millisecond, Outcome: loadgen.Status, Code: 502}
			}
			f.mu.Unlock()
			res.Records = append(res.Records, rec)
		}
		sleepUntil(res.Start.Add(d))
		return res, nil
	}
}

func dur(d time.Duration) *time.Duration { return &d }

func TestScheduleOrdersEndsBeforeStarts(t *testing.T) {
	got := schedule([]Fault{
		{At: 8 * time.Second, Kind: Pause},
		{At: 2 * time.Second, For: 6 * time.Second, Kind: Blackhole},
		{At: 1 * time.Second, Kind: Kill},
	})
	want := []action{{At: time.Second, Index: 2, Start: true}, {At: 2 * time.Second, Index: 1, Start: true},
		{At: 8 * time.Second, Index: 1}, {At: 8 * time.Second, Index: 0, Start: true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schedule %v, want %v", got, want)
	}
}

// The schedule runs on time, faults with a duration are cleared at their
// end, phases split the requests at the faults' real start and end, and
// recovery is measured from the last fault's end.
func TestExecuteScheduleAndPhases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(2 * time.Second)
		sc := Scenario{
			Load: Load{Duration: 12 * time.Second},
			Faults: []Fault{
				{Kind: Kill, At: 2 * time.Second, Index: 0},
				{Kind: Pause, At: 6 * time.Second, For: 3100 * time.Millisecond, Index: -1, Instance: "demo-2"},
				{Kind: Exit, At: 7 * time.Second, Index: 2},
			},
			Expect: Expect{
				Bounds:          Bounds{MaxFailed: &Limit{N: 0}},
				Before:          Bounds{MaxFailed: &Limit{N: 0}},
				During:          Bounds{MaxFailed: &Limit{Percent: 50, IsPct: true}},
				After:           Bounds{P99: dur(10 * time.Millisecond)},
				RecoveredWithin: dur(5 * time.Second),
				Restarts:        []KeyCount{{Key: "0", Index: 0, Count: Count{Op: "==", N: 1}}, {Key: "total", Index: -1, Count: Count{Op: "<=", N: 0}}},
				Events: []EventExpect{
					{Fault: 0, Sequence: []string{events.EndpointRemoved, events.EndpointAdded}, Within: 3 * time.Second},
					{Fault: 1, Sequence: []string{events.EndpointAdded}, Within: 2 * time.Second},
				},
			},
		}
		m := execute(t.Context(), sc, f, f, f.load(sc.Load.Duration))
		wantCalls := "+2s kill demo-1, +6s pause demo-2, +9.1s clear pause:demo-2"
		// Exit fails in the fake: it is not in the calls' effects but is tried.
		if got := strings.Join(f.calls, ", "); got != "+2s kill demo-1, +6s pause demo-2, +7s exit demo-3, +9.1s clear pause:demo-2" {
			t.Errorf("calls %s, want %s with exit tried at +7s", got, wantCalls)
		}
		if m.Faults[2].Error == "" || !m.Faults[2].Started.IsZero() {
			t.Errorf("the failed exit: %+v, want an error and no start", m.Faults[2])
		}
		// The kill's window ends when the first sample sees demo-1 back.
		if got := m.Faults[0].Ended.Sub(m.Start); got < 4*time.Second || got > 4*time.Second+sampleEvery {
			t.Errorf("kill over at +%s, want +4s (back after 2s) within a sample", got)
		}
		before, during, after := m.phases(sc)
		if before.To.Sub(m.Start) != 2*time.Second {
			t.Errorf("before ends at +%s, want +2s", before.To.Sub(m.Start))
		}
		if len(during) != 2 || during[1].From.Sub(m.Start) != 6*time.Second || during[1].To.Sub(m.Start) != 9100*time.Millisecond {
			t.Fatalf("during %+v, want the kill's and the pause's (+6s to +9.1s)", during)
		}
		if after[0].To.Sub(m.Start) != 6*time.Second || after[1].From.Sub(m.Start) != 9100*time.Millisecond || after[1].To != m.LoadEnd {
			t.Errorf("after windows %+v, want kill's up to +6s and pause's +9.1s to the end", after)
		}
		if got := m.Recovered.Sub(m.LastFaultEnd); m.Recovered.IsZero() || got > sampleEvery {
			t.Errorf("recovered %s after the last fault's end, want within a sample", got)
		}

		checks := evaluate(sc, m)
		var lines []string
		for _, c := range checks {
			lines = append(lines, fmt.Sprintf("%v %s: %s", c.Passed, c.Name, c.Got))
		}
		got := strings.Join(lines, "\n")
		// demo-1 (every third request from the first) is down from +2s to
		// +4s: 7 of the 20 requests then fail; demo-2 from +6s to +9.1s:
		// 10 of 31.
		want := strings.Join([]string{
			"false failed requests: 17 of 120 (14.17%)",
			"true before the first fault: failed requests: 0 of 20 (0.00%)",
			"true during fault 0: failed requests: 7 of 20 (35.00%)",
			"true during fault 1: failed requests: 10 of 31 (32.26%)",
			"true after fault 0: p99 latency: 5ms",
			"true after fault 1: p99 latency: 5ms",
			"false fault 2 (exit of instance 2 at 7s): error",
			"true recovery after the last fault: 150ms",
			"true restarts of instance 0 (demo-1): 1",
			"false restarts of all instances: 1",
			"true events EndpointRemoved then EndpointAdded of instance 0 within 3s of fault 0: after 2s",
			"false events EndpointAdded of demo-2 within 2s of fault 1: missing EndpointAdded",
		}, "\n")
		if got != want {
			t.Errorf("checks:\n%s\nwant:\n%s", got, want)
		}
	})
}

// An instance that never comes back: execute waits the recovery time
// after the last fault and no longer, and the check says so.
func TestExecuteRecoveryTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(time.Hour)
		sc := Scenario{
			Load:   Load{Duration: 5 * time.Second},
			Faults: []Fault{{Kind: Kill, At: time.Second, Index: 1}},
			Expect: Expect{RecoveredWithin: dur(10 * time.Second)},
		}
		m := execute(t.Context(), sc, f, f, f.load(sc.Load.Duration))
		if took := m.End.Sub(m.Start); took < 11*time.Second || took > 11*time.Second+sampleEvery {
			t.Errorf("execute took %s, want the 1s of the kill plus 10s to recover", took)
		}
		c := evaluate(sc, m)
		if len(c) != 1 || c[0].Passed || c[0].Got != "not recovered" || !strings.Contains(c[0].Detail, "not ready at the end: demo-2") {
			t.Errorf("checks %+v, want recovery failed naming demo-2", c)
		}
	})
}

// A fault whose duration outlasts the load ends with the load; without a
// recovery expectation execute returns as the load ends.
func TestExecuteFaultOutlastingTheLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(time.Second)
		sc := Scenario{
			Load:   Load{Duration: 4 * time.Second},
			Faults: []Fault{{Kind: Blackhole, At: 3 * time.Second, For: time.Minute, Index: 0}},
			Expect: Expect{Bounds: Bounds{MaxFailed: &Limit{N: 0}}},
		}
		m := execute(t.Context(), sc, f, f, f.load(sc.Load.Duration))
		if got := strings.Join(f.calls, ", "); got != "+3s blackhole demo-1, +4s clear blackhole:demo-1" {
			t.Errorf("calls %s, want the blackhole cleared as the load ended at +4s", got)
		}
		if m.End.Sub(m.Start) != 4*time.Second {
			t.Errorf("execute took %s, want the load's 4s", m.End.Sub(m.Start))
		}
		_, during, after := m.phases(sc)
		if len(during) != 1 || during[0].To != m.LoadEnd || after[0].From != after[0].To {
			t.Errorf("during %+v after %+v, want the fault's window to end with the load and an empty after", during, after)
		}
	})
}

// Ctrl-C (ctx cancelled) ends the run at once: the load is stopped, the
// measurement says it was interrupted and no further fault is injected.
func TestExecuteInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(time.Second)
		sc := Scenario{
			Load:   Load{Duration: time.Minute},
			Faults: []Fault{{Kind: Pause, At: time.Second, Index: 0}, {Kind: Kill, At: 30 * time.Second, Index: 1}},
			Expect: Expect{Bounds: Bounds{MaxFailed: &Limit{N: 0}}},
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(5*time.Second, cancel)
		m := execute(ctx, sc, f, f, f.load(sc.Load.Duration))
		if !m.Interrupted || m.End.Sub(m.Start) != 5*time.Second {
			t.Errorf("interrupted %v after %s, want interrupted after 5s", m.Interrupted, m.End.Sub(m.Start))
		}
		if got := strings.Join(f.calls, ", "); got != "+1s pause demo-1" {
			t.Errorf("calls %s, want only the pause (teardown's ClearAll reverts it)", got)
		}
	})
}

// synctestRun runs f in a synctest bubble.
func synctestRun(t *testing.T, f func(t *testing.T)) { synctest.Test(t, f) }
