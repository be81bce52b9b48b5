package main

// End-to-end tests (TestE2E...): the real easlocal binary, built once with
// `go build`, against the real containerd, runc and CNI, with the example
// image (examples/app) loaded under its own tag so other packages' tests
// loading easlocal.local/example:latest cannot swap it underneath. They
// need root; with -short they are skipped; when CI=true and containerd
// cannot be used they fail.
//
// Each test has its own service name, registry directory and gateway port
// (127.0.0.1:0), brings the service up with `up -d` (or `run`, or a
// foreground `up`), always runs `down` at the end and then asserts that
// nothing of the service is left: no container or snapshot, no network
// namespace, no IP lease, no easlocal process.
//
// The service files are testdata/e2e/*.json with "NAME" as the name;
// names are e2e_<test>_<pid of the test process>.
// Numbers worth reporting (failed requests, time from a failure to the
// endpoint's removal) are printed with t.Logf: see them with -v.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/runtime"
)

// e2eImage is the example image under a tag only these tests use.
const e2eImage = "easlocal.local/example:e2e"

// envHelper makes the test binary act as the command of `easlocal run`
// (see e2eHelper) instead of running tests.
const envHelper = "EASLOCAL_E2E_HELPER"

var e2e struct {
	once   sync.Once
	suffix string           // "_<pid>": service names are unique to this test process
	dir    string           // temporary directory holding the binary
	bin    string           // the easlocal binary
	rt     *runtime.Runtime // for Leftovers
	err    error            // why the tests cannot run
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(envHelper); mode != "" {
		os.Exit(e2eHelper(mode))
	}
	if os.Getenv(envAsCLI) != "" {
		os.Exit(runAsCLI())
	}
	flag.Parse()
	code := m.Run()
	if e2e.rt != nil {
		e2e.rt.Close()
	}
	if e2e.dir != "" {
		os.RemoveAll(e2e.dir)
	}
	os.Exit(code)
}

// needE2E returns the easlocal binary, building it and loading the image
// on first use; it skips (fails under CI=true) when that is impossible.
func needE2E(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs root and containerd (run without -short)")
	}
	e2e.once.Do(func() { e2e.err = setupE2E() })
	if e2e.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the end-to-end tests cannot run: %v", e2e.err)
		}
		t.Skipf("end-to-end tests cannot run: %v", e2e.err)
	}
	return e2e.bin
}

func setupE2E() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rt, err := runtime.New(ctx, runtime.Config{}, zerolog.Nop())
	if err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	e2e.rt = rt
	// Service names end in this process's pid, so engineers running the
	// tests at once on a shared machine do not remove each other's
	// services. What an interrupted earlier run left is removed here.
	e2e.suffix = fmt.Sprintf("_%d", os.Getpid())
	names, err := rt.Services(ctx)
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	for _, name := range names {
		m := regexp.MustCompile(`^e2e_[a-z]+_(\d+)$`).FindStringSubmatch(name)
		if m == nil {
			continue
		}
		if pid, _ := strconv.Atoi(m[1]); pid != os.Getpid() && syscall.Kill(pid, 0) != nil {
			// Names are unique per test process, so what cannot be removed
			// does not stand in this run's way: say so and go on.
			if err := rt.Cleanup(ctx, name); err != nil {
				fmt.Fprintf(os.Stderr, "warning: cannot remove what an earlier test run left of %s: %v\n", name, err)
			}
		}
	}
	// The background process of `up -d` is orphaned when its parent
	// exits. Adopting it lets the tests reap it after SIGKILL or down: a
	// zombie would still look alive to the registry (kill(pid, 0)).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become a child subreaper: %w", err)
	}
	e2e.dir, err = os.MkdirTemp("", "easlocal-e2e")
	if err != nil {
		return err
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	e2e.bin = filepath.Join(e2e.dir, "easlocal")
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	// Built as `make build` builds it, so `easlocal version` names the commit.
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "build", "BIN="+e2e.bin, "GO="+gobin)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make build: %v\n%s", err, out)
	}
	archive := filepath.Join(e2e.dir, "example.tar")
	if err := build.Build(ctx, build.Options{Out: archive, Shell: true, Ref: e2eImage, Dir: root}); err != nil {
		return fmt.Errorf("build the example image: %w", err)
	}
	out, err := exec.CommandContext(ctx, e2e.bin, "load", archive).CombinedOutput()
	if err != nil {
		return fmt.Errorf("easlocal load: %v\n%s", err, out)
	}
	return nil
}

// binEnv is the environment of every easlocal the tests start: the
// test's own, minus EASLOCAL_* settings a developer may have exported.
func binEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EASLOCAL_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// binResult is a finished easlocal command.
type binResult struct {
	out, err string
	code     int
}

func (r binResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
}

// easlocal runs the binary to completion (at most within).
func easlocal(t *testing.T, within time.Duration, env []string, args ...string) binResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.bin, args...)
	cmd.Env = binEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := binResult{out: out.String(), err: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("easlocal %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("easlocal %s did not finish within %s:\n%s", strings.Join(args, " "), within, r)
	}
	return r
}

// svc is one service under test.
type svc struct {
	t        *testing.T
	name     string
	file     string // its service.json
	reg      string // its --registry-dir
	gateway  string // http://127.0.0.1:PORT, once up
	pid      int    // the background easlocal of `up -d`
	upResult binResult
}

// newSvc prepares a service from testdata/e2e/<spec>.json, named base
// plus the process's suffix, with the other replacements (old, new, ...)
// applied, and registers the final `down` and the check that nothing is
// left.
func newSvc(t *testing.T, base, spec string, replace ...string) *svc {
	t.Helper()
	needE2E(t)
	name := base + e2e.suffix
	b, err := os.ReadFile(filepath.Join("testdata", "e2e", spec+".json"))
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.NewReplacer(append([]string{`"NAME"`, `"` + name + `"`}, replace...)...).Replace(string(b)))
	// The directory is named after the service: `up -d` names its log
	// file after the service file's directory.
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &svc{t: t, name: name, file: filepath.Join(dir, "service.json"), reg: t.TempDir()}
	if err := os.WriteFile(s.file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Leftovers of an earlier, interrupted run of this test.
	if err := e2e.rt.Cleanup(context.Background(), name); err != nil {
		t.Fatalf("cleanup before the test: %v", err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(s.reg, name+".json")); err == nil {
			// A stale entry (its easlocal was killed) is answered "left
			// nothing behind" once a test has cleaned up.
			if r := s.ctl(3*time.Minute, "down", name); r.code != 0 && !strings.Contains(r.err, "left nothing behind") {
				t.Errorf("down at the end of the test: %s", r)
			}
		}
		s.reap()
		assertNothingLeft(t, name)
		// Container logs outlive a service by design; a test's are noise.
		logs := filepath.Join(e2e.rt.Config().StateDir, "logs")
		os.RemoveAll(filepath.Join(logs, name))
		os.Remove(filepath.Join(logs, "up-"+name+".log"))
	})
	return s
}

// upArgs are the flags every test uses: a free gateway port, quick
// back-off and stop.
func (s *svc) upArgs(extra ...string) []string {
	args := []string{"--registry-dir", s.reg, "--listen", "127.0.0.1:0",
		"--backoff-initial", "1s", "--backoff-max", "2s", "--stop-grace", "3s", "--wait-timeout", "2m"}
	return append(args, extra...)
}

// up runs `up -d` and reads the gateway URL and pid from the registry.
func (s *svc) up(extra ...string) {
	s.t.Helper()
	args := append([]string{"up", "-d"}, s.upArgs(extra...)...)
	s.upResult = easlocal(s.t, 3*time.Minute, nil, append(args, s.file)...)
	if s.upResult.code != 0 {
		s.t.Fatalf("up -d: %s", s.upResult)
	}
	e := s.entry()
	s.gateway, s.pid = e.GatewayURL, e.PID
}

// entry reads the service's registry file.
func (s *svc) entry() admin.Entry {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.reg, s.name+".json"))
	if err != nil {
		s.t.Fatalf("registry entry: %v", err)
	}
	var e admin.Entry
	if err := json.Unmarshal(b, &e); err != nil {
		s.t.Fatalf("registry entry %s: %v", b, err)
	}
	if e.GatewayURL == "" || e.PID <= 0 {
		s.t.Fatalf("registry entry without gateway or pid: %s", b)
	}
	return e
}

// reap waits for the background easlocal to end (it is our child, see
// PR_SET_CHILD_SUBREAPER) and fails the test if it does not.
func (s *svc) reap() {
	if s.pid == 0 {
		return
	}
	pid := s.pid
	s.pid = 0
	if !waitPIDGone(pid, time.Minute) {
		s.t.Errorf("the background easlocal (pid %d) of %s still runs after down", pid, s.name)
	}
}

// waitPIDGone reaps pid if it is our child and reports whether it is gone
// within d.
func waitPIDGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if got == pid {
			return true
		}
		if errors.Is(err, syscall.ECHILD) && syscall.Kill(pid, 0) != nil {
			return true // not ours, and gone
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// ctl runs a control command (ps, down, kill, ...) against this service's
// registry.
func (s *svc) ctl(within time.Duration, cmd string, args ...string) binResult {
	s.t.Helper()
	return easlocal(s.t, within, nil, append([]string{cmd, "--registry-dir", s.reg}, args...)...)
}

func (s *svc) mustCtl(cmd string, args ...string) string {
	s.t.Helper()
	r := s.ctl(time.Minute, cmd, args...)
	if r.code != 0 {
		s.t.Fatalf("easlocal %s %s: %s", cmd, strings.Join(args, " "), r)
	}
	return r.out
}

// driver is the service's admin.Driver, the one the CLI and the tools
// use too.
func (s *svc) driver() *admin.Driver {
	s.t.Helper()
	return admin.NewDriver(admin.Registry{Dir: s.reg}, s.entry())
}

// ask asks the service's control API (what names the question for a
// failure) and fails the test when it does not answer within 30 s.
func ask[T any](s *svc, what string, q func(*admin.Client, context.Context) (T, error)) T {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := q(s.driver().Client, ctx)
	if err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (s *svc) ps() admin.ServiceStatus {
	s.t.Helper()
	return ask(s, "status", (*admin.Client).Status)
}

func (s *svc) endpoints() []admin.Endpoint {
	s.t.Helper()
	return ask(s, "endpoints", (*admin.Client).Endpoints)
}

// waitEndpoints waits, at most within, until the gateway routes to n
// instances.
func (s *svc) waitEndpoints(n int, within time.Duration) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if _, err := s.driver().WaitEndpoints(ctx, n); err != nil {
		s.t.Fatalf("after %s: %v", within, err)
	}
}

func (s *svc) events() []admin.Event {
	s.t.Helper()
	return ask(s, "events", func(c *admin.Client, ctx context.Context) ([]admin.Event, error) {
		evs, _, err := c.Events(ctx, 0)
		return evs, err
	})
}

// instance returns the named instance from ps.
func (s *svc) instance(name string) admin.InstanceStatus {
	s.t.Helper()
	for _, in := range s.ps().Instances {
		if in.Name == name {
			return in
		}
	}
	s.t.Fatalf("instance %s is not in ps", name)
	return admin.InstanceStatus{}
}

// waitRestarted waits until instance name has been restarted and is
// ready again (what names that for a failure), and returns it.
func (s *svc) waitRestarted(name, what string) admin.InstanceStatus {
	s.t.Helper()
	var in admin.InstanceStatus
	testutil.WaitFor(s.t, 90*time.Second, e2ePoll, what, func() bool {
		in = s.instance(name)
		return in.Restarts >= 1 && in.Ready
	})
	return in
}

// outAndBack finds, in evs, instance victim's endpoint leaving the
// rotation after t0 and coming back, and waits until l's requests reach
// the victim again.
func (s *svc) outAndBack(evs []admin.Event, l *load, victim string, t0 time.Time) (removed, added admin.Event) {
	s.t.Helper()
	removed, ok := firstEvent(evs, victim, "EndpointRemoved", t0)
	if !ok {
		s.t.Fatalf("no EndpointRemoved event for %s", victim)
	}
	added, ok = firstEvent(evs, victim, "EndpointAdded", removed.Time)
	if !ok {
		s.t.Fatalf("no EndpointAdded event for %s after the restart", victim)
	}
	testutil.WaitFor(s.t, 30*time.Second, e2ePoll, victim+" answers through the gateway again", func() bool {
		return count(l.since(added.Time))[victim] > 0
	})
	return removed, added
}

// predict is the gateway URL of path (which starts with /).
func (s *svc) predict(path string) string {
	return s.gateway + "/api/predict/" + s.name + path
}

// firstEvent finds the first event of instance with reason after t0.
func firstEvent(evs []admin.Event, instance, reason string, t0 time.Time) (admin.Event, bool) {
	for _, ev := range evs {
		if ev.Instance == instance && ev.Reason == reason && !ev.Time.Before(t0) {
			return ev, true
		}
	}
	return admin.Event{}, false
}

// assertNothingLeft checks that no container, snapshot, network
// namespace, pod record or IP lease of service remains.
func assertNothingLeft(t *testing.T, service string) {
	t.Helper()
	left, err := e2e.rt.Leftovers(context.Background(), service)
	if err != nil {
		t.Errorf("list leftovers of %s: %v", service, err)
		return
	}
	if !left.Empty() {
		t.Errorf("service %s left things behind: %+v", service, left)
		_ = e2e.rt.Cleanup(context.Background(), service)
	}
	// Independently of the runtime's own bookkeeping: namespaces by
	// name, leases by owner (host-local writes the owner's ID,
	// easlocal-<service>-<instance>, into each lease file) and containers
	// as ctr lists them.
	if ns, _ := filepath.Glob(filepath.Join(runtime.NetNSDir, "easlocal-"+service+"-*")); len(ns) > 0 {
		t.Errorf("service %s left network namespaces: %v", service, ns)
	}
	leases, _ := filepath.Glob(filepath.Join(e2e.rt.Config().LeaseDir(), "*"))
	for _, f := range leases {
		if b, err := os.ReadFile(f); err == nil && bytes.HasPrefix(b, []byte("easlocal-"+service+"-"+service+"-")) {
			t.Errorf("service %s left the IP lease %s", service, f)
		}
	}
	if ctr, err := exec.LookPath("ctr"); err == nil {
		out, err := exec.Command(ctr, "-a", e2e.rt.Address(), "-n", "easlocal", "containers", "ls", "-q",
			fmt.Sprintf("labels.%q==%s", runtime.LabelService, service)).CombinedOutput()
		if err != nil {
			t.Errorf("ctr containers ls: %v: %s", err, out)
		} else if len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("service %s left containers (ctr): %s", service, out)
		}
	}
}

// httpc talks to the gateway and to instances: no proxy from the
// environment, fresh connections, a bound on every request.
var httpc = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// get returns the status and body of GET url (fatal on transport errors).
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends POST url to an instance's control API and wants 200.
func post(t *testing.T, url string) {
	t.Helper()
	resp, err := httpc.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: status %d: %s", url, resp.StatusCode, b)
	}
}

// instanceOf reads the instance name out of the example app's answer.
func instanceOf(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		Instance string `json:"instance"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Instance == "" {
		t.Fatalf("answer does not name an instance (%v): %q", err, body)
	}
	return v.Instance
}

// e2ePoll is how often the end-to-end tests poll a condition: a poll
// often runs the CLI.
const e2ePoll = 100 * time.Millisecond

// e2eHelper is the test binary run as `easlocal run`'s command (mode
// "exit:N"): it checks what run promises (EASLOCAL_URL answers, from an
// instance of EASLOCAL_SERVICE) and exits with N, or with 99 and a
// message when the promise is broken.
func e2eHelper(mode string) int {
	var code int
	if _, err := fmt.Sscanf(mode, "exit:%d", &code); err != nil {
		fmt.Fprintf(os.Stderr, "helper: bad mode %q\n", mode)
		return 99
	}
	url, svcName := os.Getenv("EASLOCAL_URL"), os.Getenv("EASLOCAL_SERVICE")
	if url == "" || svcName == "" {
		fmt.Fprintln(os.Stderr, "helper: EASLOCAL_URL or EASLOCAL_SERVICE is not set")
		return 99
	}
	resp, err := httpc.Get(url + "/")
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper: GET %s/: %v\n", url, err)
		return 99
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"`+svcName+`-`) {
		fmt.Fprintf(os.Stderr, "helper: GET %s/: status %d: %s\n", url, resp.StatusCode, b)
		return 99
	}
	fmt.Printf("helper: %s answered 200\n", url)
	return code
}
