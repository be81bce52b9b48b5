package session

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
)

// dashImage is the example image under a tag only this test uses, so
// other tests loading the example image cannot swap it underneath.
const dashImage = "easlocal.local/example:dashboard"

// dashService has two instances with fast probes, so a killed instance is
// restarted and ready again within seconds.
const dashService = `{
  "metadata": {"name": %q, "instance": 2},
  "containers": [{
    "image": %q,
    "command": "/app serve",
    "port": 8000,
    "health_check": {"http_get": {"path": "/ready", "port": 8000}, "period_seconds": 1},
    "liveness_check": {"http_get": {"path": "/health", "port": 8000}, "period_seconds": 1, "failure_threshold": 3}
  }]
}`

// needOrSkip skips the test, or fails it when CI=true (CI has root,
// containerd and chromium, so the test must run there).
func needOrSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the dashboard browser test cannot run: "+format, args...)
	}
	t.Skipf("dashboard browser test cannot run: "+format, args...)
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestDashboardBrowser runs a real service (containerd, the example
// image, Start) and drives the dashboard in headless
// Chromium: every instance is listed with its IP and readiness, load can
// be turned on and shows in the chart, and pressing kill on an instance
// makes it restart (its restart count goes up, a new Started event shows)
// and become ready again. /metrics agrees. With
// EASLOCAL_UPDATE_SCREENSHOT=1 it saves docs/dashboard.png.
func TestDashboardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: needs root, containerd and chromium (run without -short)")
	}
	if os.Geteuid() != 0 {
		needOrSkip(t, "needs root")
	}
	chrome := findChromium()
	if chrome == "" {
		needOrSkip(t, "chromium is not installed (apt-get install chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	rt, err := runtime.New(ctx, runtime.Config{}, zerolog.Nop())
	if err != nil {
		needOrSkip(t, "containerd: %v", err)
	}
	archive := filepath.Join(t.TempDir(), "example.tar")
	if err := build.Build(ctx, build.Options{Out: archive, Shell: true, Ref: dashImage, Dir: ".."}); err != nil {
		rt.Close()
		t.Fatalf("build the example image: %v", err)
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.Load(ctx, f)
	f.Close()
	rt.Close()
	if err != nil {
		t.Fatalf("load the example image: %v", err)
	}

	name := fmt.Sprintf("dash_%d", os.Getpid())
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "service.json")
	if err := os.WriteFile(file, fmt.Appendf(nil, dashService, name, dashImage), 0o644); err != nil {
		t.Fatal(err)
	}
	policy, _ := scheduler.ParseRestartPolicy("always")
	s, err := Start(ctx, Options{
		File: file, RestartPolicy: policy, // instances: metadata.instance (2)
		BackoffInitial: time.Second, BackoffMax: 10 * time.Second, StopGrace: 2 * time.Second,
		Listen: "127.0.0.1:0", RegistryDir: t.TempDir(), Runtime: runtime.Config{},
		Out: io.Discard, Err: io.Discard, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		s.Stop()
		if err := s.Wait(context.Background(), func() {}); err != nil {
			t.Errorf("teardown: %v", err)
		}
	}()
	if s.dashboard == nil {
		t.Fatal("Start did not attach the dashboard")
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	err = s.sched.WaitReady(wctx)
	wcancel()
	if err != nil {
		t.Fatalf("the service did not get ready: %v", err)
	}

	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()

	poll := func(expr string, d time.Duration) chromedp.Action[chromedp.Void] {
		return discard(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(d)))
	}
	// fail saves what the page showed, to see why a step timed out.
	fail := func(format string, args ...any) {
		t.Helper()
		shot := filepath.Join(os.TempDir(), "easlocal-dashboard-failure.png")
		sctx, scancel := context.WithTimeout(bctx, 10*time.Second)
		defer scancel()
		var png []byte
		var msg string
		if err := chromedp.Do(sctx, into(chromedp.FullScreenshot(100), &png), into(chromedp.Evaluate[string](`document.querySelector('#msg').textContent + " | load " + JSON.stringify(state && state.load) + " disabled=" + document.querySelector('#load').disabled + " rates=" + JSON.stringify(state && state.rates.slice(-2))`), &msg)); err == nil {
			os.WriteFile(shot, png, 0o644)
		}
		t.Fatalf(format+"\n(page message %q, screenshot %s)", append(args, msg, shot)...)
	}
	step := func(d time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
		sctx, scancel := context.WithTimeout(bctx, d)
		defer scancel()
		return chromedp.Do(sctx, steps...)
	}
	inst0, inst1 := name+"-0", name+"-1"
	row := func(in string) string { return fmt.Sprintf(`#instances tr[data-instance=%q]`, in) }
	started := func(in string) string {
		return fmt.Sprintf(`document.querySelectorAll('#events li[data-reason="Started"][data-instance=%q]').length`, in)
	}
	var ip0, ip1, ready0, ready1, restartsBefore string
	var startedBefore int
	// The first Do starts the browser for bctx's lifetime: no timeout on it.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := step(time.Minute, chromedp.Navigate(s.DashboardURL())); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	if err := step(time.Minute,
		chromedp.WaitVisible(chromedp.CSS(row(inst0)+` td.ip`)),
		chromedp.WaitVisible(chromedp.CSS(row(inst1)+` td.ip`)),
		poll(fmt.Sprintf(`document.querySelector('%s td.ready').textContent.includes('✓') && document.querySelector('%s td.ready').textContent.includes('✓')`, row(inst0), row(inst1)), 30*time.Second),
		poll(started(inst0)+` > 0`, 30*time.Second),
		into(chromedp.Text(chromedp.CSS(row(inst0)+` td.ip`)), &ip0),
		into(chromedp.Text(chromedp.CSS(row(inst1)+` td.ip`)), &ip1),
		into(chromedp.Text(chromedp.CSS(row(inst0)+` td.ready`)), &ready0),
		into(chromedp.Text(chromedp.CSS(row(inst1)+` td.ready`)), &ready1),
		into(chromedp.Text(chromedp.CSS(row(inst0)+` td.restarts`)), &restartsBefore),
		into(chromedp.Evaluate[int](started(inst0)), &startedBefore),
	); err != nil {
		fail("the page did not show both instances: %v", err)
	}
	for in, ip := range map[string]string{inst0: ip0, inst1: ip1} {
		if net.ParseIP(strings.TrimSpace(ip)) == nil {
			t.Errorf("instance %s shows IP %q", in, ip)
		}
	}
	t.Logf("page shows %s %s %s, %s %s %s", inst0, ip0, ready0, inst1, ip1, ready1)

	// Load on; the chart shows traffic.
	if err := step(time.Minute,
		chromedp.Click(chromedp.CSS(`#load`)),
		chromedp.WaitVisible(chromedp.CSS(`#load[aria-pressed="true"]`)),
		poll(`(state && state.rates.length > 0 && state.rates[state.rates.length-1].total > 5)`, 20*time.Second),
		chromedp.WaitVisible(chromedp.CSS(`#chart polyline`)),
		// Round robin: both instances get traffic, and the page says so.
		poll(fmt.Sprintf(`(() => { const r = state.rates[state.rates.length-1].instances || {}; return r[%q] > 2 && r[%q] > 2 })()`, inst0, inst1), 20*time.Second),
		poll(fmt.Sprintf(`Number(document.querySelector('%s td.rps').textContent) > 0`, row(inst1)), 10*time.Second),
	); err != nil {
		fail("load did not show in the chart: %v", err)
	}

	// Kill instance 0: it restarts and is ready again.
	before, _ := strconv.Atoi(strings.TrimSpace(restartsBefore))
	var restartsAfter string
	if err := step(time.Minute,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-act="kill"][data-instance=%q]`, inst0))),
		poll(fmt.Sprintf(`Number(document.querySelector('%s td.restarts').textContent) > %d`, row(inst0), before), 60*time.Second),
		poll(fmt.Sprintf(`%s > %d`, started(inst0), startedBefore), 60*time.Second),
		poll(fmt.Sprintf(`document.querySelector('%s td.ready').textContent.includes('✓')`, row(inst0)), 60*time.Second),
		into(chromedp.Text(chromedp.CSS(row(inst0)+` td.restarts`)), &restartsAfter),
	); err != nil {
		fail("after kill the page did not show the restart: %v", err)
	}
	t.Logf("%s restarts: %s → %s", inst0, restartsBefore, restartsAfter)

	// The metrics agree with the page.
	req, _ := http.NewRequestWithContext(ctx, "GET", s.admin.URL()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+s.entry.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`easlocal_container_restarts_total{container="c0",instance=%q} %s`, inst0, strings.TrimSpace(restartsAfter)),
		fmt.Sprintf(`easlocal_instance_ready{instance=%q} 1`, inst1),
		`easlocal_gateway_requests_total{code="200"}`,
		fmt.Sprintf(`easlocal_gateway_upstream_requests_total{code="200",instance=%q}`, inst1),
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "easlocal_gateway_requests_total") || strings.HasPrefix(l, "easlocal_gateway_retries_total") {
			t.Logf("%s", l) // what the kill cost the clients
		}
	}

	if os.Getenv("EASLOCAL_UPDATE_SCREENSHOT") == "1" {
		var png []byte
		// A few seconds more of load so the chart shows the dip and recovery.
		if err := step(time.Minute, chromedp.Sleep(8*time.Second), into(chromedp.FullScreenshot(100), &png)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../docs/dashboard.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Load off through the page.
	if err := step(time.Minute, chromedp.Click(chromedp.CSS(`#load`)), chromedp.WaitVisible(chromedp.CSS(`#load[aria-pressed="false"]`))); err != nil {
		t.Errorf("load toggle off: %v", err)
	}
}

// into runs a and stores its value in dst, so it can go in chromedp.Do.
func into[T any](a chromedp.Action[T], dst *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

// discard runs a and drops its value.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	var v T
	return into(a, &v)
}
