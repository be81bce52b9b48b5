package scheduler

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sasha-s/go-deadlock"

	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// Integration tests: the scheduler with the real runtime (containerd,
// runc, CNI), the real prober and the example image. They need root.
// With -short they are skipped; with CI=true they fail when the runtime
// cannot be set up.

var (
	itOnce  sync.Once
	itRT    *runtime.Runtime
	itImage string
	itErr   error
)

func needRealRuntime(t *testing.T) (*runtime.Runtime, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs root and containerd (run without -short)")
	}
	itOnce.Do(func() { itRT, itImage, itErr = setupRealRuntime() })
	if itErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("runtime unavailable and CI=true: %v", itErr)
		}
		t.Skipf("runtime unavailable: %v", itErr)
	}
	return itRT, itImage
}

func setupRealRuntime() (*runtime.Runtime, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", fmt.Errorf("needs root")
	}
	// Under -race, go-cni guards its config with sasha-s/go-deadlock,
	// which identifies goroutines with petermattis/goid; on Go 1.26 that
	// returns 0 for every goroutine, so two pods created at once look
	// like recursive locking and the test binary exits. Parallel pod
	// creation is what the scheduler does: switch the false alarm off.
	deadlock.Opts.Disable = true
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rt, err := runtime.New(ctx, runtime.Config{}, zerolog.Nop())
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "easlocal-scheduler-test")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	image, err := loadExample(ctx, rt, dir, "easlocal.local/example:scheduler-test")
	if err != nil {
		return nil, "", err
	}
	return rt, image, nil
}

// loadExample builds the example image as ref into an archive in dir and
// loads it into rt's containerd; it returns the loaded name.
func loadExample(ctx context.Context, rt *runtime.Runtime, dir, ref string) (string, error) {
	wd, _ := os.Getwd()
	archive := filepath.Join(dir, "example.tar")
	if err := build.Build(ctx, build.Options{Out: archive, Ref: ref, Shell: true, Dir: filepath.Dir(wd)}); err != nil {
		return "", fmt.Errorf("build the example image: %w", err)
	}
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	names, err := rt.Load(ctx, f)
	if err != nil {
		return "", fmt.Errorf("load the example image: %w", err)
	}
	return names[0], nil
}

var itHTTP = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// itPoll is how often these tests poll a real container's state.
const itPoll = 20 * time.Millisecond

func post(t *testing.T, url string) {
	t.Helper()
	resp, err := itHTTP.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: status %d", url, resp.StatusCode)
	}
}

// The whole loop on real containers: two instances become ready through
// real http probes; a liveness failure restarts one container in the same
// pod (same IP) and it comes back; Kill is a crash that is restarted;
// teardown after cancel leaves nothing behind.
func TestRealRuntimeLifecycle(t *testing.T) {
	rt, image := needRealRuntime(t)
	name := fmt.Sprintf("t_sched_%d", os.Getpid()) // pid: a second test run cannot remove ours
	if err := rt.Cleanup(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Cleanup(context.Background(), name) })

	p := func(path string, fail int) *service.Probe {
		return &service.Probe{HTTPGet: &service.HTTPGetAction{Path: path, Port: 8000}, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: fail}
	}
	svc := &service.Service{
		Metadata: service.Metadata{Name: name, Instance: 2},
		Containers: []service.Container{{
			Image: image, Port: 8000, Command: "/app serve",
			HealthCheck: p("/ready", 1), LivenessCheck: p("/health", 2),
		}},
	}
	set := endpoints.New()
	l := &ProbeListener{}
	pm := prober.NewManager(prober.Options{Listener: l})
	s := New(rt, ProberManager{M: pm}, set, Options{Service: svc, Termination: Termination{Grace: 5 * time.Second, SIGTERM: true}, StateDir: t.TempDir()})
	l.Bind(s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- s.Run(ctx) }()

	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	if err := s.WaitReady(wctx); err != nil {
		wcancel()
		t.Fatal(err)
	}
	wcancel()
	t.Logf("measured: 2 instances ready %v after Run", time.Since(start).Round(time.Millisecond))
	if set.Snapshot().Len() != 2 {
		t.Fatalf("endpoints %v, want 2", set.Snapshot().Endpoints)
	}
	in0 := s.Status()[0]
	ip := in0.IP

	// Liveness failure (F=2, P=1): out of the endpoints, restarted in
	// the same pod, ready again.
	post(t, fmt.Sprintf("http://%s:8000/control/live?ok=false", ip))
	failed := time.Now()
	gone := testutil.WaitFor(t, 15*time.Second, itPoll, "endpoint removal after liveness failure", func() bool {
		_, _, ok := set.Snapshot().Lookup(in0.Name)
		return !ok
	})
	back := testutil.WaitFor(t, 30*time.Second, itPoll, "ready again after the restart", func() bool {
		st := s.Status()[0]
		return st.Ready && st.Restarts == 1
	})
	t.Logf("measured: liveness off → endpoint removed %v, → ready again %v", gone.Round(time.Millisecond), time.Since(failed).Round(time.Millisecond))
	_ = back
	st := s.Status()[0]
	if st.IP != ip || st.Containers[0].LastExit == nil || st.Containers[0].LastExit.Kind != LivenessFailed {
		t.Fatalf("after the liveness restart: %+v, want the same IP %s and a liveness kill", st, ip)
	}

	// Kill (SIGKILL) is a crash: restarted at once (second restart of
	// the streak), same IP.
	if err := s.Kill(in0.Name, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, itPoll, "ready after kill", func() bool {
		st := s.Status()[0]
		return st.Ready && st.Restarts == 2
	})
	if st := s.Status()[0]; st.IP != ip || st.Containers[0].LastExit.Signal != int(syscall.SIGKILL) {
		t.Errorf("after kill: %+v", st)
	}

	cancel()
	td := time.Now()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("measured: teardown of 2 instances %v", time.Since(td).Round(time.Millisecond))
	if set.Snapshot().Len() != 0 {
		t.Errorf("endpoints left: %v", set.Snapshot().Endpoints)
	}
	left, err := rt.Leftovers(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !left.Empty() {
		t.Errorf("teardown left %+v", left)
	}
}

// A container that exits at once crash-loops with the (shortened)
// back-off on real containers, then WaitReady reports it with its exit
// code; a script runs under /bin/sh -c with the EAS env.
func TestRealRuntimeCrashLoop(t *testing.T) {
	rt, image := needRealRuntime(t)
	name := fmt.Sprintf("t_schedcrash_%d", os.Getpid())
	if err := rt.Cleanup(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Cleanup(context.Background(), name) })
	svc := &service.Service{
		Metadata: service.Metadata{Name: name, Instance: 1},
		Containers: []service.Container{{Image: image, Port: 8000, Script: `echo "pod=$POD_NAME ns=$NAMESPACE port=$LISTENING_PORT"; exit 3`,
			// Nothing listens: never ready, even in the instants it runs.
			HealthCheck: &service.Probe{TCPSocket: &service.TCPSocketAction{Port: 8000}, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1},
		}},
	}
	var out testutil.SyncBuffer
	evlog := events.NewLog(1000)
	s := New(rt, ProberManager{M: prober.NewManager(prober.Options{})}, nil, Options{
		Service: svc, BackoffInitial: 300 * time.Millisecond, BackoffMax: 600 * time.Millisecond,
		StateDir: t.TempDir(), Output: func(string, string) io.Writer { return &out }, Events: evlog,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()

	testutil.WaitFor(t, 60*time.Second, itPoll, "4 restarts", func() bool {
		st := s.Status()
		return len(st) == 1 && st[0].Restarts >= 4
	})
	backoffs := 0
	evs, _ := evlog.Events(0)
	for _, e := range evs {
		if e.Reason == events.BackOff {
			backoffs++
		}
	}
	if backoffs < 2 {
		t.Errorf("%d BackOff events for 4 restarts, want 2 (0, 0, 300ms, 600ms)", backoffs)
		for _, e := range evs {
			t.Logf("%s %s %s %s", e.Time.Format("15:04:05.000"), e.Container, e.Reason, e.Message)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err := s.WaitReady(wctx)
	wcancel()
	if err == nil || !strings.Contains(err.Error(), "exited with code 3") {
		t.Errorf("WaitReady report lacks the exit code: %v", err)
	}
	if got := out.String(); !strings.Contains(got, "pod="+name+"-0 ns="+name+" port=8000") {
		t.Errorf("container output %q lacks the EAS env", got)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if left, err := rt.Leftovers(context.Background(), name); err != nil || !left.Empty() {
		t.Errorf("teardown left %+v (%v)", left, err)
	}
}

// A liveness probe is not run at the container's start: as the kubelet's,
// it ticks from the pod's admission. An app that listens 300 ms after its
// start, with failure_threshold 1 and no initial delay (EAS's liveness
// default), is not killed; probed at its start it was, every time. Its
// liveness probe does run: failing it restarts the container.
func TestRealRuntimeLivenessNotAtStart(t *testing.T) {
	rt, image := needRealRuntime(t)
	name := fmt.Sprintf("t_schedlive_%d", os.Getpid())
	if err := rt.Cleanup(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Cleanup(context.Background(), name) })
	svc := &service.Service{
		Metadata: service.Metadata{Name: name, Instance: 1},
		Containers: []service.Container{{Image: image, Port: 8000, Script: `sleep 0.3; exec /app serve`,
			LivenessCheck: &service.Probe{HTTPGet: &service.HTTPGetAction{Path: "/health", Port: 8000},
				PeriodSeconds: 2, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1},
		}},
	}
	l := &ProbeListener{}
	evlog := events.NewLog(1000)
	s := New(rt, ProberManager{M: prober.NewManager(prober.Options{Listener: l})}, endpoints.New(), Options{
		Service: svc, Termination: Termination{Grace: time.Second, SIGTERM: true},
		StateDir: t.TempDir(), Events: evlog,
	})
	l.Bind(s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	err := s.WaitReady(wctx)
	wcancel()
	if err != nil {
		t.Fatal(err)
	}
	// Two liveness periods: at least one probe has passed.
	time.Sleep(4 * time.Second)
	if st := s.Status()[0]; st.Restarts != 0 {
		evs, _ := evlog.Events(0)
		for _, e := range evs {
			t.Logf("%s %s %s %s", e.Time.Format("15:04:05.000"), e.Container, e.Reason, e.Message)
		}
		t.Fatalf("restarted %d times by a liveness probe at its start, want 0", st.Restarts)
	}
	post(t, fmt.Sprintf("http://%s:8000/control/live?ok=false", s.Status()[0].IP))
	testutil.WaitFor(t, 20*time.Second, itPoll, "restart by the liveness probe", func() bool {
		st := s.Status()[0]
		return st.Restarts == 1 && st.Containers[0].LastExit != nil && st.Containers[0].LastExit.Kind == LivenessFailed
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if left, err := rt.Leftovers(context.Background(), name); err != nil || !left.Empty() {
		t.Errorf("teardown left %+v (%v)", left, err)
	}
}
