package main

// End-to-end tests of the service lifecycle: termination with and
// without SIGTERM, a request in flight through scale-in, rolling updates
// under load, a paused update and crash block. The service is
// testdata/e2e/lifecycle.json: 2 instances, a 4 s grace period from the
// file (these tests pass --stop-grace 0s so the file's value counts).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/examples/imagebuild/build"
)

// e2eImageV2 is the example image under a second tag, so an update
// changes the image.
const e2eImageV2 = "easlocal.local/example:e2e-v2"

var imageV2 struct {
	once sync.Once
	err  error
}

// needImageV2 builds and loads e2eImageV2 once.
func needImageV2(t *testing.T) {
	t.Helper()
	imageV2.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		root, err := filepath.Abs("../..")
		if err != nil {
			imageV2.err = err
			return
		}
		archive := filepath.Join(e2e.dir, "example-v2.tar")
		if err := build.Build(ctx, build.Options{Out: archive, Shell: true, Ref: e2eImageV2, Dir: root}); err != nil {
			imageV2.err = fmt.Errorf("build the example image: %w", err)
			return
		}
		if out, err := exec.CommandContext(ctx, e2e.bin, "load", archive).CombinedOutput(); err != nil {
			imageV2.err = fmt.Errorf("easlocal load: %v\n%s", err, out)
		}
	})
	if imageV2.err != nil {
		t.Fatal(imageV2.err)
	}
}

// lifecycleSvc prepares lifecycle.json with enable_sigterm, enable_crash_block
// and the containers' env as given.
func lifecycleSvc(t *testing.T, base string, sigterm, crashBlock bool, instances int, env string) *svc {
	t.Helper()
	return newSvc(t, base, "lifecycle",
		`"SIGTERM"`, fmt.Sprint(sigterm), `"CRASHBLOCK"`, fmt.Sprint(crashBlock),
		`"instance": 2`, fmt.Sprintf(`"instance": %d`, instances), `"ENV"`, env)
}

// rewrite writes a changed copy of the service's file for an update.
func (s *svc) rewrite(old, new string) string {
	s.t.Helper()
	b, err := os.ReadFile(s.file)
	if err != nil {
		s.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		s.t.Fatalf("%s does not contain %q", s.file, old)
	}
	f := strings.TrimSuffix(s.file, ".json") + fmt.Sprintf("-%d.json", time.Now().UnixNano())
	if err := os.WriteFile(f, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return f
}

// rewriteFile replaces old with new in the file f, in place.
func (s *svc) rewriteFile(f, old, new string) string {
	s.t.Helper()
	b, err := os.ReadFile(f)
	if err != nil || !strings.Contains(string(b), old) {
		s.t.Fatalf("%s does not contain %q (%v)", f, old, err)
	}
	if err := os.WriteFile(f, []byte(strings.ReplaceAll(string(b), old, new)), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return f
}

// mustEvent returns the first event of instance with reason at or
// after t0, failing the test when there is none.
func (s *svc) mustEvent(instance, reason string, t0 time.Time) admin.Event {
	s.t.Helper()
	ev, ok := firstEvent(s.events(), instance, reason, t0)
	if !ok {
		s.t.Fatalf("no %s event of %s after %s; events:\n%s", reason, instance, t0.Format("15:04:05.000"), s.mustCtl("events", s.name))
	}
	return ev
}

// waitGone waits until instance has left ps.
func (s *svc) waitGone(instance string, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		found := false
		for _, in := range s.ps().Instances {
			found = found || in.Name == instance
		}
		if !found {
			return
		}
		time.Sleep(e2ePoll)
	}
	s.t.Fatalf("%s is still in ps after %s", instance, within)
}

// slowCalls sends n requests of /slow?delay=d through the gateway at once
// and returns, once all answered, the instance of each 200 and the
// failures.
func slowCalls(t *testing.T, s *svc, n int, d time.Duration) func() (instances []string, fails []string) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var insts, fails []string
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := httpc.Get(s.predict("/slow?delay=" + d.String()))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails = append(fails, err.Error())
				return
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				k, err := resp.Body.Read(buf)
				b.WriteString(string(buf[:k]))
				if err != nil {
					break
				}
			}
			if resp.StatusCode != 200 {
				fails = append(fails, fmt.Sprintf("status %d: %s", resp.StatusCode, b.String()))
				return
			}
			insts = append(insts, instanceOf(t, b.String()))
		}()
	}
	return func() ([]string, []string) {
		wg.Wait()
		return insts, fails
	}
}

// With rpc.enable_sigterm false a scaled-in instance leaves the endpoints
// and discovery at once, finishes the requests in flight (3 s ones), gets
// no signal at all and is SIGKILLed at the end of the file's 4 s grace
// period; its log stays readable.
func TestE2ETerminationWithoutSIGTERM(t *testing.T) {
	s := lifecycleSvc(t, "e2e_nosigterm", false, false, 2, "[]")
	s.up("--stop-grace", "0s")
	s.waitEndpoints(2, time.Minute)
	if n := len(discover(t, s)); n != 2 {
		t.Fatalf("discovery lists %d instances, want 2", n)
	}
	inflight := slowCalls(t, s, 4, 3*time.Second)
	time.Sleep(500 * time.Millisecond) // the requests reach both instances
	t0 := time.Now()
	s.mustCtl("scale", s.name, "1")
	gone := s.name + "-1"
	if n := len(discover(t, s)); n != 1 {
		t.Errorf("discovery lists %d instances right after the scale-in, want 1", n)
	}
	for range 5 {
		if _, body := get(t, s.predict("/")); instanceOf(t, body) == gone {
			t.Errorf("a request sent after the scale-in reached %s", gone)
		}
	}
	insts, fails := inflight()
	t.Logf("in-flight 3 s requests answered by %v; failed: %v", insts, fails)
	if len(fails) > 0 || !strings.Contains(strings.Join(insts, " "), gone) {
		t.Fatalf("in-flight requests: answered by %v, failed %v; want every one 200 and some answered by %s", insts, fails, gone)
	}
	s.waitGone(gone, time.Minute)
	term := s.mustEvent(gone, "Terminating", t0)
	if !strings.Contains(term.Message, "no SIGTERM") || !strings.Contains(term.Message, "4s grace") {
		t.Errorf("Terminating event %q, want no SIGTERM and the file's 4s grace period", term.Message)
	}
	killed := s.mustEvent(gone, "Killed", t0)
	t.Logf("Terminating → Killed: %s (grace 4s); %s", killed.Time.Sub(term.Time), killed.Message)
	m := regexp.MustCompile(`SIGKILL sent (\S+) after Terminating`).FindStringSubmatch(killed.Message)
	if m == nil {
		t.Fatalf("Killed event %q does not say when SIGKILL was sent", killed.Message)
	}
	// The scheduler's timer, unlike the event's time, does not include
	// the wait for the exit on a loaded machine.
	if sent, err := time.ParseDuration(m[1]); err != nil || sent < 4*time.Second || sent > 4*time.Second+time.Second {
		t.Errorf("SIGKILL was sent %s after Terminating (%v), want at the end of the 4s grace period", m[1], err)
	}
	if took := killed.Time.Sub(term.Time); took < 4*time.Second-100*time.Millisecond {
		t.Errorf("Killed %s after Terminating, before the grace period ended", took)
	}
	logs := s.mustCtl("logs", s.name, gone)
	if !strings.Contains(logs, "listening") {
		t.Errorf("the removed instance's log is not readable:\n%s", logs)
	}
	if strings.Contains(logs, "signal received") || strings.Contains(logs, "shut down") {
		t.Errorf("the app got a signal before SIGKILL:\n%s", logs)
	}
}

// With rpc.enable_sigterm true the app gets SIGTERM at once and its exit
// ends the termination; no SIGKILL follows.
func TestE2EEnableSIGTERM(t *testing.T) {
	s := lifecycleSvc(t, "e2e_sigterm", true, false, 2, "[]")
	s.up("--stop-grace", "0s")
	s.waitEndpoints(2, time.Minute)
	t0 := time.Now()
	s.mustCtl("scale", s.name, "1")
	gone := s.name + "-1"
	s.waitGone(gone, time.Minute)
	term := s.mustEvent(gone, "Terminating", t0)
	if !strings.Contains(term.Message, "SIGTERM now") {
		t.Errorf("Terminating event %q, want SIGTERM now", term.Message)
	}
	exited := s.mustEvent(gone, "Exited", t0)
	took := exited.Time.Sub(term.Time)
	t.Logf("Terminating → Exited: %s; %s", took, exited.Message)
	if took > 3*time.Second || !strings.Contains(exited.Message, "exited with code 0") {
		t.Errorf("exit %q %s after Terminating, want code 0 within the app's 1s shutdown", exited.Message, took)
	}
	if _, ok := firstEvent(s.events(), gone, "Killed", t0); ok {
		t.Error("SIGKILL after the app exited on SIGTERM")
	}
	// "shut down" is the app's last line after a signal (SIGTERM: exit 0);
	// it is logged after "signal received", which names the signal.
	logs := s.mustCtl("logs", s.name, gone)
	if !strings.Contains(logs, "shut down") {
		t.Errorf("the app's log does not show a shutdown on SIGTERM:\n%s", logs)
	}
	if strings.Contains(logs, "signal received") && !strings.Contains(logs, "signal=terminated") {
		t.Errorf("the app got another signal than SIGTERM:\n%s", logs)
	}
}

// bounds watches ps while an update runs: the most instances that were
// not terminating, the fewest ready ones and the fewest endpoints.
type bounds struct {
	stop chan struct{}
	done chan struct{}

	mu                                   sync.Mutex
	maxLive, minReady, minEndpoints, obs int
}

func watchBounds(t *testing.T, s *svc) *bounds {
	b := &bounds{stop: make(chan struct{}), done: make(chan struct{}), minReady: 1 << 30, minEndpoints: 1 << 30}
	d := s.driver()
	go func() {
		defer close(b.done)
		for {
			select {
			case <-b.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			st, err := d.Status(t.Context())
			if err != nil {
				continue
			}
			eps, err := d.Endpoints(t.Context())
			if err != nil {
				continue
			}
			live, ready := st.LiveReady()
			b.mu.Lock()
			b.obs++
			b.maxLive, b.minReady, b.minEndpoints = max(b.maxLive, live), min(b.minReady, ready), min(b.minEndpoints, len(eps))
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.end)
	return b
}

func (b *bounds) end() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
}

// A rolling update under steady load through the gateway loses no
// request, never runs more than desired+max_surge instances nor fewer
// than desired ready ones, and ends with every instance new.
func TestE2ERollingUpdateUnderLoad(t *testing.T) {
	s := lifecycleSvc(t, "e2e_rolling", false, false, 3, "[]")
	needImageV2(t)
	s.up() // --stop-grace 3s: old instances go 3 s after leaving the endpoints
	s.waitEndpoints(3, time.Minute)
	l := startLoad(t, s.predict("/"), 4)
	time.Sleep(time.Second)
	b := watchBounds(t, s)
	f := s.rewrite(`"env": []`, `"env": [{"name": "VERSION", "value": "2"}]`)
	f = s.rewriteFile(f, e2eImage, e2eImageV2)
	t0 := time.Now()
	r := s.ctl(3*time.Minute, "update", s.name, f, "--timeout", "1m")
	took := time.Since(t0)
	time.Sleep(time.Second) // load on the new instances only
	hits, fails := l.result()
	b.end()
	t.Logf("update took %s; %d requests answered, %d failed; %d observations: at most %d instances, at least %d ready, %d endpoints",
		took, len(hits), len(fails), b.obs, b.maxLive, b.minReady, b.minEndpoints)
	t.Logf("update output:\n%s", r.out)
	if r.code != 0 {
		t.Fatalf("update: %s", r)
	}
	for _, f := range fails {
		t.Errorf("failed request %s", f)
	}
	if b.obs < 5 || b.maxLive > 3+1 || b.minReady < 3 || b.minEndpoints < 3 {
		t.Errorf("bounds: %d observations, at most %d instances (want <= 4), at least %d ready and %d endpoints (want >= 3)",
			b.obs, b.maxLive, b.minReady, b.minEndpoints)
	}
	if !strings.Contains(r.out, "revision 2") || !strings.Contains(r.out, "RollingUpdate") || !strings.Contains(r.out, "UpdateComplete") {
		t.Errorf("update did not print its progress:\n%s", r.out)
	}
	s.waitEndpoints(3, time.Minute)
	st := s.ps()
	live := 0
	for _, in := range st.Instances {
		if in.State == "Terminating" {
			continue
		}
		live++
		if in.Revision != 2 || !in.Ready || in.Containers[0].Image != e2eImageV2 {
			t.Errorf("after the update %s: revision %d ready %t image %s", in.Name, in.Revision, in.Ready, in.Containers[0].Image)
		}
	}
	if live != 3 {
		t.Errorf("after the update %d instances, want 3", live)
	}
	// A restart rolls them all again, without changes.
	r = s.ctl(3*time.Minute, "restart", s.name, "--timeout", "1m")
	if r.code != 0 || !strings.Contains(r.out, "revision 3") {
		t.Fatalf("restart: %s", r)
	}
}

// A new revision that never becomes ready pauses the update: the command
// fails naming the instance and its probe output, the old instances keep
// serving every request, and the next update removes the failed one
// first and completes.
func TestE2EFailingUpdatePaused(t *testing.T) {
	s := lifecycleSvc(t, "e2e_paused", false, false, 2, "[]")
	s.up()
	s.waitEndpoints(2, time.Minute)
	l := startLoad(t, s.predict("/"), 2)
	broken := s.rewrite(`"env": []`, `"env": [{"name": "READY", "value": "false"}]`)
	t0 := time.Now()
	r := s.ctl(2*time.Minute, "update", s.name, broken, "--timeout", "8s")
	t.Logf("failing update returned after %s:\n%s", time.Since(t0), r)
	failed := s.name + "-2"
	if r.code == 0 || !strings.Contains(r.err, "paused") || !strings.Contains(r.err, failed) ||
		!strings.Contains(r.err, "not ready within 8s") || !strings.Contains(r.err, "readiness probe") {
		t.Fatalf("update of a never-ready revision: %s\nwant a non-zero exit naming %s, the timeout and its readiness probe", r, failed)
	}
	eps := s.endpoints()
	if len(eps) != 2 || hasEndpoint(eps, failed) {
		t.Errorf("endpoints while paused: %+v, want the 2 old instances", eps)
	}
	if ps := s.mustCtl("ps", s.name); !strings.Contains(ps, "rolling update to revision 2 paused") || !strings.Contains(ps, "2 (new)") {
		t.Errorf("ps while paused:\n%s", ps)
	}
	time.Sleep(time.Second)
	fixed := s.rewrite(`"env": []`, `"env": [{"name": "VERSION", "value": "3"}]`)
	r = s.ctl(3*time.Minute, "update", s.name, fixed, "--timeout", "1m")
	if r.code != 0 {
		t.Fatalf("the fixed update: %s", r)
	}
	hits, fails := l.result()
	t.Logf("%d requests answered, %d failed through the paused and the fixed update", len(hits), len(fails))
	for _, f := range fails {
		t.Errorf("failed request %s", f)
	}
	term := s.mustEvent(failed, "Terminating", t0)
	if !strings.Contains(term.Message, "unfinished update") {
		t.Errorf("the failed instance was not removed first: %q", term.Message)
	}
	for _, in := range s.ps().Instances {
		if in.State != "Terminating" && in.Revision != 3 {
			t.Errorf("after the fixed update %s runs revision %d", in.Name, in.Revision)
		}
	}
}

// With runtime.enable_crash_block a crashed container is not restarted:
// the instance stays, not ready and out of the endpoints, with its exit
// code and logs, until down.
func TestE2ECrashBlock(t *testing.T) {
	s := lifecycleSvc(t, "e2e_crashblock", false, true, 2, "[]")
	s.up()
	s.waitEndpoints(2, time.Minute)
	victim := s.instance(s.name + "-0")
	post(t, "http://"+victim.IP+":8000/control/crash?code=3")
	s.waitEndpoints(1, 30*time.Second)
	time.Sleep(4 * time.Second) // well past the 1s back-off of upArgs
	in := s.instance(victim.Name)
	c := in.Containers[0]
	if in.Ready || in.Restarts != 0 || in.State != "Failed" || c.Reason != "CrashBlocked" || c.LastExit == nil || c.LastExit.Code != 3 {
		t.Fatalf("crash-blocked instance %+v, want Failed, not ready, not restarted, exit code 3", in)
	}
	if !strings.Contains(s.mustCtl("ps", s.name), "CrashBlocked") {
		t.Error("ps does not show the crash block")
	}
	s.mustEvent(victim.Name, "CrashBlocked", time.Time{})
	if logs := s.mustCtl("logs", s.name, victim.Name); !strings.Contains(logs, "listening") {
		t.Errorf("the blocked instance's log:\n%s", logs)
	}
}
