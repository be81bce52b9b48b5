package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/runtime"
)

// These tests run the real control API on loopback in front of a fake
// controller and drive the commands in-process, as a user would.

func demoStatus() admin.ServiceStatus {
	return admin.ServiceStatus{
		Name: "demo", GatewayURL: "http://127.0.0.1:8000", Desired: 2,
		Instances: []admin.InstanceStatus{
			{Name: "demo-0", Revision: 1, IP: "10.77.0.2", State: "Running", Ready: true, Restarts: 1,
				Containers: []admin.ContainerStatus{
					{Name: "c0", State: "Running", Ready: true, Live: true, Started: true, Restarts: 1,
						LastExit: &admin.Exit{Code: 137, Signal: "SIGKILL"},
						Probes:   map[string]admin.ProbeResult{"readiness": {Result: "success"}}},
					{Name: "sidecar", State: "Waiting", Reason: "CrashLoopBackOff", Live: true, Restarts: 4,
						LastExit: &admin.Exit{Code: 1, Reason: "Error", Message: "exited with code 1"}},
				}},
			{Name: "demo-1", Revision: 1, IP: "10.77.0.3", State: "Starting", Paused: true, Reason: "Unhealthy", Message: "readiness probe failed",
				Containers: []admin.ContainerStatus{
					{Name: "c0", State: "Running", Live: true, Started: true,
						Probes: map[string]admin.ProbeResult{"readiness": {Result: "failure", Output: "Get \"http://10.77.0.3:8000/\":\n connection refused"}}},
				}},
		},
	}
}

// fakeService is one fake running service, registered in dir.
type fakeService struct {
	fake  *admintest.Fake
	entry admin.Entry
	logs  string // directory of its log files
}

func startService(t *testing.T, dir string, st admin.ServiceStatus) *fakeService {
	t.Helper()
	f := admintest.New(st)
	token := admin.NewToken()
	srv := admin.NewServer(f, admin.Options{Token: token, LogPollInterval: 5 * time.Millisecond})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	e := admin.Entry{Name: st.Name, PID: os.Getpid(), AdminURL: srv.URL(), AdminToken: token, Started: time.Now()}
	reg := admin.Registry{Dir: dir}
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	f.OnShutdown = func() { reg.Unregister(e) }
	return &fakeService{fake: f, entry: e, logs: t.TempDir()}
}

// log writes (or appends to) a log file of the service and returns its path.
func (s *fakeService) log(t *testing.T, name, text string, appendTo bool) string {
	t.Helper()
	p := filepath.Join(s.logs, name)
	testutil.WriteFile(t, p, text, appendTo)
	return p
}

// result of one CLI run.
type result struct {
	out, err string
	code     int
}

// ctl runs `easlocal CMD --registry-dir DIR ARGS...` and returns what it
// printed and its exit status, as main's run() maps it.
func ctl(t *testing.T, dir string, args ...string) result {
	t.Helper()
	var out bytes.Buffer
	r := ctlTo(t, context.Background(), &out, dir, args...)
	r.out = out.String()
	return r
}

func ctlTo(t *testing.T, ctx context.Context, out interface{ Write([]byte) (int, error) }, dir string, args ...string) result {
	t.Helper()
	var errb bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = out, &errb
	argv := append([]string{"easlocal", args[0], "--registry-dir", dir}, args[1:]...)
	code := exitStatus(app, app.RunContext(ctx, argv))
	return result{err: errb.String(), code: code}
}

func TestPsTable(t *testing.T) {
	dir := t.TempDir()
	startService(t, dir, demoStatus())
	r := ctl(t, dir, "ps")
	want := `service demo: 1 of 2 instances ready (2 desired), gateway http://127.0.0.1:8000
INSTANCE   REV  IP         STATE                       READY  RESTARTS  DETAILS
demo-0     1    10.77.0.2  Running                     yes    1         
  c0                       Running                     yes    1         last exit: code 137, SIGKILL
  sidecar                  Waiting (CrashLoopBackOff)  no     4         last exit: exited with code 1
demo-1     1    10.77.0.3  Starting (paused)           no     0         Unhealthy: readiness probe failed
  c0                       Running                     no     0         readiness failure (Get "http://10.77.0.3:8000/": connection refused)
`
	if r.code != 0 || r.out != want {
		t.Errorf("ps: exit %d, stderr %q, output:\n%s\nwant:\n%s", r.code, r.err, r.out, want)
	}
	// The service name may be given; the answer is the same.
	if r2 := ctl(t, dir, "ps", "demo"); r2.out != want {
		t.Errorf("ps demo:\n%s", r2.out)
	}
}

func TestPsJSON(t *testing.T) {
	dir := t.TempDir()
	startService(t, dir, demoStatus())
	r := ctl(t, dir, "ps", "--json")
	var st admin.ServiceStatus
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || r.code != 0 {
		t.Fatalf("ps --json: exit %d, %v:\n%s", r.code, err, r.out)
	}
	if !reflect.DeepEqual(st, demoStatus()) {
		t.Errorf("ps --json = %+v", st)
	}
}

func TestEndpoints(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	if r := ctl(t, dir, "endpoints"); r.code != 0 ||
		r.out != "service demo has no ready endpoint: the gateway answers 503 until an instance is ready (see `easlocal ps demo`)\n" {
		t.Errorf("endpoints with none ready: %d %q", r.code, r.out)
	}
	eps := []admin.Endpoint{{Instance: "demo-0", IP: "10.77.0.2", Port: 8000}, {Instance: "demo-1", IP: "10.77.0.3", Port: 8000}}
	s.fake.SetEndpoints(eps)
	want := "INSTANCE  IP         PORT\ndemo-0    10.77.0.2  8000\ndemo-1    10.77.0.3  8000\n"
	if r := ctl(t, dir, "endpoints", "demo"); r.out != want {
		t.Errorf("endpoints:\n%s\nwant:\n%s", r.out, want)
	}
	var got []admin.Endpoint
	r := ctl(t, dir, "endpoints", "--json")
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || !reflect.DeepEqual(got, eps) {
		t.Errorf("endpoints --json = %q (%v)", r.out, err)
	}
}

func TestEventsList(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	if r := ctl(t, dir, "events"); r.out != "no events yet for service demo\n" {
		t.Errorf("events with none: %q", r.out)
	}
	at := time.Date(2026, 11, 25, 11, 2, 3, 0, time.UTC)
	s.fake.Publish(admin.Event{Time: at, Instance: "demo-0", Container: "c0", Reason: "Started", Message: "started container c0"})
	s.fake.Publish(admin.Event{Time: at, Type: events.Warning, Instance: "demo-1", Container: "c0", Reason: "Unhealthy", Message: "readiness probe failed"})
	s.fake.Publish(admin.Event{Time: at, Reason: "Scaled", Message: "scaled to 3"})
	ts := at.Local().Format("15:04:05.000")
	want := ts + "  demo-0/c0        Started          started container c0\n" +
		ts + "  demo-1/c0        !Unhealthy       readiness probe failed\n" +
		ts + "  -                Scaled           scaled to 3\n"
	if r := ctl(t, dir, "events"); r.out != want {
		t.Errorf("events:\n%s\nwant:\n%s", r.out, want)
	}
	r := ctl(t, dir, "events", "--json")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 {
		t.Fatalf("events --json: %d lines, want 3:\n%s", len(lines), r.out)
	}
	var ev admin.Event
	if err := json.Unmarshal([]byte(lines[1]), &ev); err != nil || ev.Seq != 2 || ev.Reason != "Unhealthy" || ev.Type != events.Warning {
		t.Errorf("events --json line 2 = %s (%v)", lines[1], err)
	}
}

// background runs a following command until the returned stop is called,
// which reports how it ended.
func background(t *testing.T, dir string, out *testutil.LineSink, args ...string) (stop func() result) {
	ctx, cancel := context.WithCancel(context.Background())
	wait := start(t, ctx, dir, out, args...)
	return func() result {
		cancel()
		return wait("the command did not stop when cancelled")
	}
}

// start runs the command in the background, printing to out; wait
// returns its result, failing t with why if it has not ended within 10 s.
func start(t *testing.T, ctx context.Context, dir string, out *testutil.LineSink, args ...string) (wait func(why string) result) {
	done := make(chan result, 1)
	go func() { done <- ctlTo(t, ctx, out, dir, args...) }()
	return func(why string) result {
		t.Helper()
		return testutil.Recv(t, done, why)
	}
}

// registerGhost registers service "ghost" in dir as a crashed run left
// it: its easlocal process is gone. It returns that process's PID.
func registerGhost(t *testing.T, dir string) int {
	t.Helper()
	pid := testutil.EndedPID(t)
	if err := (admin.Registry{Dir: dir}).Register(admin.Entry{Name: "ghost", PID: pid, AdminURL: "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	return pid
}

// events --follow prints the history, then each new event as it happens.
func TestEventsFollow(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	s.fake.Publish(admin.Event{Instance: "demo-0", Reason: "Started", Message: "one"})
	out := testutil.NewLineSink()
	stop := background(t, dir, out, "events", "--json", "--follow")
	next := func(want string) {
		t.Helper()
		l := out.Next(t)
		var ev admin.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Message != want {
			t.Fatalf("followed %q, want the event %q", l, want)
		}
	}
	next("one")
	s.fake.Publish(admin.Event{Instance: "demo-1", Reason: "Killing", Message: "two"})
	next("two")
	s.fake.Publish(admin.Event{Instance: "demo-1", Reason: "Started", Message: "three"})
	next("three")
	if r := stop(); r.code != 0 {
		t.Errorf("events --follow ended with %d: %s", r.code, r.err)
	}
}

// events --follow ends by itself, saying so, when the service stops.
func TestEventsFollowEndsWithService(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	s.fake.Publish(admin.Event{Message: "one"})
	out := testutil.NewLineSink()
	wait := start(t, context.Background(), dir, out, "events", "-f")
	out.Next(t) // the stream is open
	s.fake.Log.Close()
	r := wait("events -f kept running after the service closed its stream")
	if r.code != 0 || r.err != "service demo ended its event stream: it is stopping\n" {
		t.Errorf("events -f when the service stops: %d %q", r.code, r.err)
	}
}

// logs prints every container of every instance with prefixes, or one
// stream bare; the one argument is an instance unless a service has its name.
func TestLogs(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	s.fake.SetLogPath("demo-0", "c0", s.log(t, "0-c0.log", "zero c0\n", false))
	s.fake.SetLogPath("demo-0", "sidecar", s.log(t, "0-side.log", "zero side\nno newline", false))
	s.fake.SetLogPath("demo-1", "c0", s.log(t, "1-c0.log", "one c0\n", false))

	want := "demo-0/c0      | zero c0\ndemo-0/sidecar | zero side\ndemo-0/sidecar | no newline\ndemo-1/c0      | one c0\n"
	if r := ctl(t, dir, "logs"); r.code != 0 || r.out != want {
		t.Errorf("logs: %d %s\n%s\nwant:\n%s", r.code, r.err, r.out, want)
	}
	for _, args := range [][]string{{"logs", "demo-1"}, {"logs", "demo", "demo-1"}} {
		if r := ctl(t, dir, args...); r.out != "one c0\n" {
			t.Errorf("%q printed %q, want demo-1's log bare", args, r.out)
		}
	}
	if r := ctl(t, dir, "logs", "demo-0", "--container", "sidecar"); r.out != "zero side\nno newline\n" {
		t.Errorf("logs demo-0 --container sidecar printed %q", r.out)
	}
	want = "demo-0 | zero c0\ndemo-1 | one c0\n"
	if r := ctl(t, dir, "logs", "demo", "-c", "c0"); r.out != want {
		t.Errorf("logs demo -c c0:\n%s\nwant:\n%s", r.out, want)
	}
	r := ctl(t, dir, "logs", "demo-7")
	if r.code != 1 || !strings.Contains(r.err, `service demo has no instance "demo-7"; its instances are demo-0, demo-1`) {
		t.Errorf("logs of an unknown instance: %d %q", r.code, r.err)
	}
	r = ctl(t, dir, "logs", "-f", "-c", "web")
	if r.code != 1 || !strings.Contains(r.err, `no instance of service demo has a container "web"; its containers are c0, sidecar`) {
		t.Errorf("logs -f of a container no instance has: %d %q", r.code, r.err)
	}
	if r := ctl(t, dir, "logs", "-c", "sidecar"); r.out != "zero side\nno newline\n" {
		t.Errorf("logs -c sidecar (only demo-0 has one) printed %q", r.out)
	}
	r = ctl(t, dir, "logs", "demo-0", "-c", "web")
	if r.code != 1 || !strings.Contains(r.err, `instance demo-0 has no container "web" (it has: c0, sidecar)`) {
		t.Errorf("logs of an unknown container: %d %q", r.code, r.err)
	}
}

// logs -f keeps printing through a restart (the log moves to a new file)
// and a rotation (a new file at the same path), with instance prefixes,
// and picks up instances added by scale.
func TestLogsFollowAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	st := demoStatus()
	st.Instances[0].Containers = st.Instances[0].Containers[:1] // one container each
	s := startService(t, dir, st)
	s.fake.SetLogPath("demo-0", "c0", s.log(t, "0.log", "a0\n", false))
	s.fake.SetLogPath("demo-1", "c0", s.log(t, "1-first.log", "a1\n", false))
	out := testutil.NewLineSink()
	stop := background(t, dir, out, "logs", "-f")

	seen := map[string]bool{}
	for range 2 {
		seen[out.Next(t)] = true // the existing lines
	}
	if !seen["demo-0 | a0"] || !seen["demo-1 | a1"] {
		t.Fatalf("first lines: %v", seen)
	}
	s.log(t, "1-first.log", "b1\n", true)
	out.Expect(t, "demo-1 | b1")

	// demo-1 restarts: last words in the old file, then the new one.
	second := s.log(t, "1-second.log", "c1\n", false)
	s.log(t, "1-first.log", "dying\n", true)
	s.fake.SetLogPath("demo-1", "c0", second)
	out.Expect(t, "demo-1 | dying")
	out.Expect(t, "demo-1 | c1")

	// Rotation of demo-0's file.
	if err := os.Rename(filepath.Join(s.logs, "0.log"), filepath.Join(s.logs, "0.log.1")); err != nil {
		t.Fatal(err)
	}
	s.log(t, "0.log", "rotated\n", false)
	out.Expect(t, "demo-0 | rotated")

	// Scale-up: a new instance is followed without restarting the command.
	st.Instances = append(st.Instances, admin.InstanceStatus{Name: "demo-2", State: "Starting",
		Containers: []admin.ContainerStatus{{Name: "c0", State: "Running"}}})
	s.fake.SetLogPath("demo-2", "c0", s.log(t, "2.log", "", false))
	s.fake.SetStatus(st)
	s.log(t, "2.log", "hello from 2\n", true)
	out.Expect(t, "demo-2 | hello from 2")

	if r := stop(); r.code != 0 {
		t.Errorf("logs -f ended with %d: %s", r.code, r.err)
	}
}

// logs -f of a service with no instances waits for some, and ends by
// itself when the service is gone.
func TestLogsFollowFromZero(t *testing.T) {
	dir := t.TempDir()
	st := demoStatus()
	st.Instances = nil
	s := startService(t, dir, st)
	srv := admin.NewServer(s.fake, admin.Options{LogPollInterval: 5 * time.Millisecond})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// Point the registry at a server this test can stop.
	e := s.entry
	e.AdminURL, e.AdminToken = srv.URL(), ""
	if err := (admin.Registry{Dir: dir}).Register(e); err != nil {
		t.Fatal(err)
	}
	out := testutil.NewLineSink()
	wait := start(t, context.Background(), dir, out, "logs", "-f")

	s.fake.SetLogPath("demo-0", "c0", s.log(t, "0.log", "first\n", false))
	s.fake.SetStatus(demoStatus())
	out.Expect(t, "demo-0/c0      | first")

	srv.Close(context.Background())
	r := wait("logs -f kept running after the service went away")
	if r.code != 0 || !strings.HasPrefix(r.err, "service demo is gone: cannot reach") {
		t.Errorf("logs -f after the service went away: %d %q", r.code, r.err)
	}
}

// kill, pause, unpause and scale reach the controller with the right
// arguments, wherever the flags are written.
func TestActions(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	cases := []struct {
		args []string
		out  string
		call string
	}{
		{[]string{"kill", "demo-1"}, "sent SIGKILL to demo-1 of service demo\n", "kill demo-1 SIGKILL"},
		{[]string{"kill", "demo-1", "--signal", "TERM"}, "sent SIGTERM to demo-1 of service demo\n", "kill demo-1 SIGTERM"},
		{[]string{"kill", "--signal=2", "demo", "demo-0"}, "sent SIGINT to demo-0 of service demo\n", "kill demo-0 SIGINT"},
		{[]string{"kill", "demo", "demo-0", "-s", "hup"}, "sent SIGHUP to demo-0 of service demo\n", "kill demo-0 SIGHUP"},
		{[]string{"pause", "demo-0"}, "paused demo-0 of service demo: its probes will now time out\n", "pause demo-0"},
		{[]string{"unpause", "demo", "demo-0"}, "unpaused demo-0 of service demo\n", "unpause demo-0"},
		{[]string{"scale", "3"}, "scaling service demo from 2 to 3 instances; watch with `easlocal ps demo`\n", "scale 3"},
		{[]string{"scale", "demo", "0"}, "scaling service demo from 3 to 0 instances; watch with `easlocal ps demo`\n", "scale 0"},
	}
	var want []string
	for _, tc := range cases {
		r := ctl(t, dir, tc.args...)
		if r.code != 0 || r.out != tc.out {
			t.Errorf("%q: exit %d, printed %q, stderr %q; want %q", tc.args, r.code, r.out, r.err, tc.out)
		}
		want = append(want, tc.call)
	}
	if got := s.fake.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("controller calls:\n got %q\nwant %q", got, want)
	}
}

// Mistakes are explained, with exit status 2 for command-line mistakes and
// 1 for what the service refuses; nothing reaches the controller.
func TestActionErrors(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"kill"}, 2, "usage: easlocal kill [SERVICE] INSTANCE"},
		{[]string{"kill", "a", "b", "c"}, 2, "usage: easlocal kill"},
		{[]string{"kill", "demo-7"}, 1, `service demo has no instance "demo-7"; its instances are demo-0, demo-1`},
		{[]string{"kill", "demo-0", "--signal", "BOGUS"}, 2, `--signal: "BOGUS" is not a signal name`},
		{[]string{"kill", "demo-0", "--signal"}, 2, "flag needs an argument: --signal"},
		{[]string{"kill", "demo-0", "--force"}, 2, "flag provided but not defined: --force"},
		{[]string{"pause", "other", "demo-0"}, 1, "no easlocal service named other is running; running: demo"},
		{[]string{"scale", "many"}, 2, `"many" is not a number of instances`},
		{[]string{"scale", "demo", "-1"}, 2, `"-1" is not a number of instances`},
		{[]string{"scale", "-1"}, 2, "flag provided but not defined: -1"},
		{[]string{"scale", "101"}, 1, "cannot scale to 101 instances: at most 100"},
		{[]string{"ps", "demo", "extra"}, 2, "usage: easlocal ps [SERVICE]"},
	}
	for _, tc := range cases {
		r := ctl(t, dir, tc.args...)
		if r.code != tc.code || !strings.Contains(r.err, tc.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d with %q", tc.args, r.code, r.err, tc.code, tc.msg)
		}
	}
	if calls := s.fake.Calls(); len(calls) != 0 {
		t.Errorf("refused commands reached the controller: %q", calls)
	}
}

func TestNoServiceRunning(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range []string{"ps", "endpoints", "events", "logs", "down"} {
		r := ctl(t, dir, cmd)
		if r.code != 1 || r.err != "easlocal: no easlocal service is running; start one with `easlocal up FILE`\n" {
			t.Errorf("%s with nothing running: %d %q", cmd, r.code, r.err)
		}
	}
}

// With two services running the name is needed; the error lists them.
func TestAmbiguousService(t *testing.T) {
	dir := t.TempDir()
	startService(t, dir, demoStatus())
	other := demoStatus()
	other.Name = "alpha"
	a := startService(t, dir, other)
	for _, args := range [][]string{{"ps"}, {"kill", "demo-1"}, {"scale", "2"}} {
		r := ctl(t, dir, args...)
		if r.code != 1 || !strings.Contains(r.err, "several easlocal services are running (alpha, demo); name one, e.g. `easlocal ps alpha`") {
			t.Errorf("%q with two services: %d %q", args, r.code, r.err)
		}
	}
	if r := ctl(t, dir, "kill", "alpha", "demo-1"); r.code != 0 {
		t.Errorf("kill alpha demo-1: %d %q", r.code, r.err)
	}
	if got := a.fake.Calls(); !reflect.DeepEqual(got, []string{"kill demo-1 SIGKILL"}) {
		t.Errorf("alpha's controller got %q", got)
	}
	// logs with one argument: a service name wins over an instance name.
	a.fake.SetLogPath("demo-0", "c0", a.log(t, "a.log", "alpha log\n", false))
	a.fake.SetLogPath("demo-0", "sidecar", a.log(t, "b.log", "", false))
	a.fake.SetLogPath("demo-1", "c0", a.log(t, "c.log", "", false))
	if r := ctl(t, dir, "logs", "alpha"); r.code != 0 || !strings.Contains(r.out, "demo-0/c0      | alpha log") {
		t.Errorf("logs alpha: %d %q %q", r.code, r.out, r.err)
	}
}

// A service whose process died is not listed, but its entry stays for
// `down` to clean up after it.
func TestStaleServiceKept(t *testing.T) {
	dir := t.TempDir()
	registerGhost(t, dir)
	startService(t, dir, demoStatus())
	if r := ctl(t, dir, "ps"); r.code != 0 || !strings.HasPrefix(r.out, "service demo:") {
		t.Errorf("ps with a stale entry beside a live one: %d %q %q", r.code, r.out, r.err)
	}
	if r := ctl(t, dir, "ps", "ghost"); r.code != 1 || !strings.Contains(r.err, "service ghost is not running: its easlocal (pid") {
		t.Errorf("ps of the crashed service: %d %q", r.code, r.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ghost.json")); err != nil {
		t.Errorf("the crashed service's entry is gone after ps: %v", err)
	}
}

// down without a name, with one service crashed and another running,
// stops neither: it names both and asks for a name (exit 2).
func TestDownNoNameCrashedAndRunning(t *testing.T) {
	dir := t.TempDir()
	reg := admin.Registry{Dir: dir}
	ghost := registerGhost(t, dir)
	s := startService(t, dir, demoStatus())
	r := ctl(t, dir, "down")
	want := fmt.Sprintf("easlocal: several easlocal services are registered: demo (running), ghost (not running: its easlocal, pid %d, ended without stopping it); name the one to stop, e.g. `easlocal down demo`\n", ghost)
	if r.code != 2 || r.err != want {
		t.Errorf("down without a name: exit %d, stderr %q; want 2, %q", r.code, r.err, want)
	}
	if calls := s.fake.Calls(); len(calls) != 0 {
		t.Errorf("the running service was asked %q", calls)
	}
	if _, err := reg.Lookup("demo"); err != nil {
		t.Errorf("the running service is gone: %v", err)
	}
}

// An entry whose PID now belongs to an unrelated process (another start
// time): down does not signal it, treats the service as crashed, cleans
// up after it and removes the entry.
func TestDownReusedPID(t *testing.T) {
	needContainerd(t)
	dir := t.TempDir()
	sleep := testutil.StartSleeper(t)
	p, err := admin.ProcessOf(sleep.PID)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("reused%d", os.Getpid())
	// What the crashed run left: a pod (network namespace and IP).
	rt, err := runtime.New(context.Background(), runtime.Config{}, runtimeTestLog())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.CreatePod(context.Background(), runtime.PodConfig{Service: name, Instance: name + "-0"}); err != nil {
		t.Fatal(err)
	}
	defer rt.Cleanup(context.Background(), name)
	e := admin.Entry{Name: name, AdminURL: "http://127.0.0.1:1"}
	e.SetProcess(admin.Process{PID: p.PID, Start: p.Start - 1, Exe: p.Exe})
	reg := admin.Registry{Dir: dir}
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	r := ctl(t, dir, "down", name)
	if r.code != 0 || r.out != "service "+name+" was not running; removed what an earlier run left behind\n" {
		t.Errorf("down of an entry with a reused PID: %d %q %q", r.code, r.out, r.err)
	}
	if left, err := rt.Leftovers(context.Background(), name); err != nil || !left.Empty() {
		t.Errorf("after down: leftovers %+v, %v", left, err)
	}
	select {
	case <-sleep.Done():
		t.Fatalf("down signalled the unrelated process: %v", sleep.Err())
	default:
	}
	if !p.Running() {
		t.Error("the unrelated process is not running after down")
	}
	if _, err := reg.Get(name); !os.IsNotExist(err) {
		t.Errorf("the crashed service's entry is still there: %v", err)
	}
}

// down asks the service to stop and returns once it has unregistered.
func TestDown(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	r := ctl(t, dir, "down")
	if r.code != 0 || r.out != "stopping service demo ...\nservice demo stopped\n" {
		t.Errorf("down: %d %q %q", r.code, r.out, r.err)
	}
	if got := s.fake.Calls(); !reflect.DeepEqual(got, []string{"shutdown"}) {
		t.Errorf("controller calls %q", got)
	}
	if r := ctl(t, dir, "ps"); r.code != 1 {
		t.Errorf("ps after down: %d %q", r.code, r.out)
	}
}

// down gives up after --timeout when the service does not stop.
func TestDownTimeout(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, demoStatus())
	s.fake.OnShutdown = nil // never unregisters
	r := ctl(t, dir, "down", "--timeout", "1ms")
	if r.code != 1 || !strings.Contains(r.err, "service demo (pid") || !strings.Contains(r.err, "is still stopping after 1ms") {
		t.Errorf("down that times out: %d %q", r.code, r.err)
	}
}

// When the control API does not answer, down falls back to SIGTERM, which
// `up` also handles, and waits for the process to exit.
func TestDownFallsBackToSIGTERM(t *testing.T) {
	dir := t.TempDir()
	proc := testutil.StartSleeper(t)
	reg := admin.Registry{Dir: dir}
	if err := reg.Register(admin.Entry{Name: "hung", PID: proc.PID, AdminURL: "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	r := ctl(t, dir, "down", "hung")
	want := fmt.Sprintf("the control API of service hung does not answer; sent SIGTERM to its process (pid %d)\nstopping service hung ...\nservice hung stopped\n", proc.PID)
	if r.code != 0 || r.out != want {
		t.Errorf("down of a service without API: %d %q %q", r.code, r.out, r.err)
	}
	if err := proc.Err(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("the process ended with %v, want killed by SIGTERM", err)
	}
}

// logs with the name of a crashed service says that it is not running,
// rather than looking for an instance of that name in another service.
func TestLogsOfCrashedService(t *testing.T) {
	dir := t.TempDir()
	registerGhost(t, dir)
	startService(t, dir, demoStatus())
	r := ctl(t, dir, "logs", "ghost")
	if r.code != 1 || !strings.Contains(r.err, "service ghost is not running: its easlocal (pid") {
		t.Errorf("logs ghost: %d %q %q", r.code, r.out, r.err)
	}
}
