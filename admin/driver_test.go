package admin_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
	"github.com/easlocal/easlocal/internal/testutil"
)

// register serves f on loopback, registers it in a fresh registry and
// returns a Driver for it that polls every 5 ms.
func register(t *testing.T, f *admintest.Fake) (*admin.Server, *admin.Driver) {
	t.Helper()
	srv, _ := start(t, f, admin.Options{})
	reg := admin.Registry{Dir: t.TempDir()}
	e := admin.Entry{Name: f.Status().Name, PID: os.Getpid(), AdminURL: srv.URL(), Started: time.Now()}
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	f.OnShutdown = func() { reg.Unregister(e) }
	d, err := admin.Find(reg, "")
	if err != nil {
		t.Fatal(err)
	}
	d.Poll = 5 * time.Millisecond
	return srv, d
}

// afterStatus is a transport that calls hook after each answered
// GET /v1/status, so a test can act at a known point of a poll loop.
type afterStatus struct{ hook func() }

func (a afterStatus) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.URL.Path == "/v1/status" {
		a.hook()
	}
	return resp, err
}

// WaitReady returns once every desired instance is ready, and not before.
func TestDriverWaitReady(t *testing.T) {
	f := admintest.New(demoStatus()) // demo-1 is not ready
	_, d := register(t, f)
	var polls sync.WaitGroup
	polls.Add(3)
	n := 0 // the driver's goroutine only
	d.HTTP = &http.Client{Transport: afterStatus{hook: func() {
		if n++; n <= 3 {
			polls.Done()
		}
	}}}
	done := make(chan error, 1)
	go func() {
		_, err := d.WaitReady(context.Background())
		done <- err
	}()
	polls.Wait() // asked three times and kept waiting
	select {
	case err := <-done:
		t.Fatalf("WaitReady returned (%v) while demo-1 was not ready", err)
	default:
	}
	st := demoStatus()
	st.Instances[1].Ready = true
	f.SetStatus(st)
	if err := testutil.Recv(t, done, "WaitReady did not return once every instance was ready"); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
}

// When the context ends first, the error is the service's own not-ready
// report, and says why the wait ended.
func TestDriverWaitReadyReport(t *testing.T) {
	st := demoStatus()
	st.NotReady = "1 of 2 instances are not ready:\n  instance demo-1: Starting"
	f := admintest.New(st)
	_, d := register(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.HTTP = &http.Client{Transport: afterStatus{hook: cancel}} // after the first answer
	got, err := d.WaitReady(ctx)
	var nre *admin.NotReadyError
	if !errors.As(err, &nre) || !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReady after cancel: %v, want a *NotReadyError wrapping context.Canceled", err)
	}
	if err.Error() != st.NotReady {
		t.Errorf("report %q, want the service's %q", err, st.NotReady)
	}
	if got.Name != "demo" || !reflect.DeepEqual(nre.Status, got) {
		t.Errorf("the last status seen is not returned: %+v", got)
	}
}

// A service that never answers is reported as such.
func TestDriverWaitReadyNeverAnswered(t *testing.T) {
	d := admin.NewDriver(admin.Registry{Dir: t.TempDir()}, admin.Entry{Name: "demo", AdminURL: "http://127.0.0.1:1"})
	d.Poll = 5 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := d.WaitReady(ctx)
	if err == nil || err.Error() != "the service never answered on its control API" {
		t.Errorf("WaitReady of a silent service: %v", err)
	}
}

// WaitEndpoints waits for the number asked for.
func TestDriverWaitEndpoints(t *testing.T) {
	f := admintest.New(demoStatus())
	_, d := register(t, f)
	want := []admin.Endpoint{{Instance: "demo-0", IP: "10.77.0.2", Port: 8000}}
	f.SetEndpoints(want)
	got, err := d.WaitEndpoints(context.Background(), 1)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("WaitEndpoints(1) = %v, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.WaitEndpoints(ctx, 2); err == nil || !strings.Contains(err.Error(), "has 1 ready endpoints, want 2") {
		t.Errorf("WaitEndpoints(2) with one endpoint: %v", err)
	}
}

// Down asks the service to stop and returns once it has unregistered,
// not when the request was accepted.
func TestDriverDown(t *testing.T) {
	f := admintest.New(demoStatus())
	_, d := register(t, f)
	asked := make(chan struct{})
	f.OnShutdown = func() { close(asked) } // accepted, still registered
	done := make(chan error, 1)
	go func() { done <- d.Down(context.Background()) }()
	<-asked
	// A Down that does not wait returns about now; one that waits cannot
	// return before the entry goes, so this never fails a correct one.
	select {
	case err := <-done:
		t.Fatalf("Down returned (%v) while the service was still registered", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := d.Registry.Unregister(d.Entry); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Recv(t, done, "Down did not return once the service unregistered"); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if got := f.Calls(); !reflect.DeepEqual(got, []string{"shutdown"}) {
		t.Errorf("controller calls %q", got)
	}
}

// Following every instance, Logs picks up an instance that appears later
// (at DiscoverEvery), and ends with a *GoneError when the service goes.
func TestDriverLogsDiscoverAndGone(t *testing.T) {
	st := demoStatus()
	st.Instances = nil
	f := admintest.New(st)
	srv, d := register(t, f)
	out := testutil.NewLineSink()
	done := make(chan error, 1)
	go func() {
		done <- d.Logs(context.Background(), admin.LogsOptions{Follow: true, DiscoverEvery: 5 * time.Millisecond}, out)
	}()
	p := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(p, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.SetLogPath("demo-0", "c0", p)
	f.SetStatus(demoStatus())
	out.Expect(t, "demo-0/c0      | first")
	srv.Close(context.Background())
	err := testutil.Recv(t, done, "Logs kept following after the service went away")
	var gone *admin.GoneError
	if !errors.As(err, &gone) || !strings.HasPrefix(err.Error(), "service demo is gone: ") {
		t.Errorf("Logs after the service went away: %v, want a *GoneError", err)
	}
}

// When the control API does not answer, RequestDown signals the entry's
// process only if it is still the one that registered: a PID now held
// by another program (another start time) gets nothing, and the answer
// is ErrGone.
func TestDriverRequestDownReusedPID(t *testing.T) {
	sleep := testutil.StartSleeper(t)
	p, err := admin.ProcessOf(sleep.PID)
	if err != nil {
		t.Fatal(err)
	}
	e := admin.Entry{Name: "demo", AdminURL: "http://127.0.0.1:1"}
	e.SetProcess(admin.Process{PID: p.PID, Start: p.Start + 7, Exe: p.Exe})
	d := admin.NewDriver(admin.Registry{Dir: t.TempDir()}, e)
	signalled, err := d.RequestDown(context.Background())
	if signalled || !errors.Is(err, admin.ErrGone) || !strings.Contains(err.Error(), "service demo is not running") {
		t.Errorf("RequestDown with a reused PID = %v, %v; want ErrGone", signalled, err)
	}
	select {
	case <-sleep.Done():
		t.Fatalf("the unrelated process was signalled: %v", sleep.Err())
	default:
	}
	// The same PID with its true identity is signalled.
	e.SetProcess(p)
	d = admin.NewDriver(d.Registry, e)
	if signalled, err := d.RequestDown(context.Background()); !signalled || err != nil {
		t.Fatalf("RequestDown of the registered process = %v, %v", signalled, err)
	}
	select {
	case <-sleep.Done():
		if err := sleep.Err(); err == nil || !strings.Contains(err.Error(), "terminated") {
			t.Errorf("sleep ended with %v, want SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the registered process was not signalled")
	}
}
