package schedctl

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/scheduler"
)

// fakeSched records calls and serves a fixed status and event history.
type fakeSched struct {
	mu      sync.Mutex
	status  []scheduler.InstanceStatus
	history []scheduler.Event
	ch      chan scheduler.Event
	calls   []string
	// onSubscribe runs between Subscribe and Events, to simulate events
	// that land in both.
	onSubscribe func()
}

func (f *fakeSched) Status() []scheduler.InstanceStatus { return f.status }
func (f *fakeSched) Desired() int                       { return 2 }
func (f *fakeSched) Events() []scheduler.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]scheduler.Event(nil), f.history...)
}
func (f *fakeSched) Subscribe() (<-chan scheduler.Event, func()) {
	if f.onSubscribe != nil {
		f.onSubscribe()
	}
	return f.ch, func() { close(f.ch) }
}
func (f *fakeSched) emit(e scheduler.Event) {
	f.mu.Lock()
	f.history = append(f.history, e)
	f.mu.Unlock()
	f.ch <- e
}
func (f *fakeSched) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}
func (f *fakeSched) Kill(in string, sig syscall.Signal) error {
	f.record("kill " + in + " " + sig.String())
	if in == "gone" {
		return errors.New(`instance "gone" does not exist`)
	}
	return nil
}
func (f *fakeSched) Pause(in string) error   { f.record("pause " + in); return nil }
func (f *fakeSched) Unpause(in string) error { f.record("unpause " + in); return nil }
func (f *fakeSched) Scale(n int) error       { f.record("scale"); return nil }

var at = time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)

func schedStatus() []scheduler.InstanceStatus {
	return []scheduler.InstanceStatus{{
		Name: "demo-0", IP: netip.MustParseAddr("10.77.0.2"), State: scheduler.StateCrashLoopBackOff, Paused: true,
		Restarts: 3, Message: "back-off 40s",
		Containers: []scheduler.ContainerStatus{
			{Name: "c0", Image: "demo:1", Port: 8000, State: scheduler.ContainerWaiting, Reason: "CrashLoopBackOff",
				Live: true, Restarts: 3, NextRestart: at.Add(40 * time.Second),
				LastExit: &scheduler.ExitInfo{Code: 137, Signal: int(syscall.SIGKILL), Reason: "Error", Message: "killed by SIGKILL", At: at},
				Probes: map[scheduler.ProbeKind]scheduler.ProbeStatus{
					scheduler.Readiness: {Result: scheduler.ProbeFailure, Output: "connection refused", Time: at},
				}},
			{Name: "c1", State: scheduler.ContainerRunning, Ready: true, Live: true, Started: true, StartedAt: at},
		},
	}, {Name: "demo-1", State: scheduler.StatePending, Containers: []scheduler.ContainerStatus{{Name: "c0", State: scheduler.ContainerWaiting}}}}
}

// Every field the scheduler reports reaches the admin DTO.
func TestStatusConversion(t *testing.T) {
	c := New(&fakeSched{status: schedStatus(), ch: make(chan scheduler.Event)}, Options{Service: "demo", GatewayURL: "http://127.0.0.1:8000"})
	defer c.Close()
	want := admin.ServiceStatus{Name: "demo", GatewayURL: "http://127.0.0.1:8000", Desired: 2, Instances: []admin.InstanceStatus{{
		Name: "demo-0", IP: "10.77.0.2", State: "CrashLoopBackOff", Paused: true, Restarts: 3, Message: "back-off 40s",
		Containers: []admin.ContainerStatus{
			{Name: "c0", Image: "demo:1", Port: 8000, State: "Waiting", Reason: "CrashLoopBackOff", Live: true, Restarts: 3,
				NextRestart: at.Add(40 * time.Second),
				LastExit:    &admin.Exit{Code: 137, Signal: "SIGKILL", Reason: "Error", Message: "killed by SIGKILL", At: at},
				Probes:      map[string]admin.ProbeResult{"readiness": {Result: "failure", Output: "connection refused", At: at}}},
			{Name: "c1", State: "Running", Ready: true, Live: true, Started: true, StartedAt: at},
		},
	}, {Name: "demo-1", State: "Pending", Containers: []admin.ContainerStatus{{Name: "c0", State: "Waiting"}}}}}
	if got := c.Status(); !reflect.DeepEqual(got, want) {
		t.Errorf("status:\n got %+v\nwant %+v", got, want)
	}
}

// Events are numbered once each, including those that arrive while the
// adapter subscribes, and Close ends the followers.
func TestEventPump(t *testing.T) {
	f := &fakeSched{ch: make(chan scheduler.Event, 10)}
	f.history = []scheduler.Event{{Time: at, Reason: "Scaled", Message: "old"}}
	overlap := scheduler.Event{Time: at.Add(time.Second), Instance: "demo-0", Reason: "Created", Message: "overlap"}
	f.onSubscribe = func() { f.emit(overlap) } // in both the channel and the history
	c := New(f, Options{Service: "demo"})
	sub := c.Subscribe(context.Background())
	f.emit(scheduler.Event{Time: at.Add(2 * time.Second), Instance: "demo-0", Type: "Warning", Reason: "Unhealthy", Message: "new"})
	e := <-sub
	if e.Seq != 3 || e.Message != "new" || e.Type != "Warning" || e.Instance != "demo-0" {
		t.Errorf("live event = %+v, want seq 3 'new'", e)
	}
	evs, next := c.Events(0)
	var msgs []string
	for _, e := range evs {
		msgs = append(msgs, e.Message)
	}
	if !reflect.DeepEqual(msgs, []string{"old", "overlap", "new"}) || next != 4 {
		t.Errorf("history %q next %d; want old, overlap, new once each, next 4", msgs, next)
	}
	c.Close()
	if _, ok := <-sub; ok {
		t.Error("Close did not end the subscription")
	}
	c.Close()
}

func TestActions(t *testing.T) {
	f := &fakeSched{status: schedStatus(), ch: make(chan scheduler.Event)}
	stopped := false
	c := New(f, Options{Service: "demo", Shutdown: func() { stopped = true }})
	defer c.Close()
	for _, err := range []error{c.Kill("demo-0", "SIGTERM"), c.Pause("demo-1"), c.Unpause("demo-1"), c.Scale(3), c.Shutdown()} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"kill demo-0 terminated", "pause demo-1", "unpause demo-1", "scale"}; !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
	if !stopped {
		t.Error("Shutdown did not call Options.Shutdown")
	}
	if err := c.Kill("gone", "SIGKILL"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("kill of a vanished instance: %v, want ErrNotFound", err)
	}
	if err := c.Scale(-1); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("scale -1: %v", err)
	}
	if err := New(f, Options{}).Shutdown(); err == nil {
		t.Error("Shutdown without Options.Shutdown succeeded")
	}
}

func TestLogPath(t *testing.T) {
	c := New(&fakeSched{status: schedStatus(), ch: make(chan scheduler.Event)}, Options{Service: "demo",
		LogPath: func(i, ct string) string { return "/logs/demo/" + i + "/" + ct + ".log" }})
	defer c.Close()
	for _, tc := range []struct{ inst, ctr, want string }{
		{"demo-0", "", "/logs/demo/demo-0/c0.log"},
		{"demo-0", "c1", "/logs/demo/demo-0/c1.log"},
	} {
		if got, err := c.LogPath(tc.inst, tc.ctr); err != nil || got != tc.want {
			t.Errorf("LogPath(%s, %q) = %q, %v; want %q", tc.inst, tc.ctr, got, err, tc.want)
		}
	}
	if _, err := c.LogPath("demo-9", ""); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("unknown instance: %v", err)
	}
	if _, err := c.LogPath("demo-0", "web"); !errors.Is(err, admin.ErrNotFound) || err.Error() != `instance demo-0 has no container "web" (it has: c0, c1)` {
		t.Errorf("unknown container: %v", err)
	}
}

func TestEndpointsOf(t *testing.T) {
	set := endpoints.New()
	set.Set("demo-1", endpoints.Endpoint{Instance: "demo-1", IP: netip.MustParseAddr("10.77.0.3"), Port: 8000})
	got := EndpointsOf(set)()
	if want := []admin.Endpoint{{Instance: "demo-1", IP: "10.77.0.3", Port: 8000}}; !reflect.DeepEqual(got, want) {
		t.Errorf("endpoints = %+v, want %+v", got, want)
	}
}
