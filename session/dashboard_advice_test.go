package session

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
)

// adviceService starts slowly (START_DELAY) without a startup_check, and
// its liveness check on /ready fails twice before it passes at about 4 s;
// readiness waits 5 s, so the advice exists once the service is ready.
const adviceService = `{
  "metadata": {"name": %q, "instance": 1},
  "containers": [{
    "image": %q,
    "port": 8000,
    "env": [{"name": "START_DELAY", "value": "3s"}],
    "health_check": {"http_get": {"path": "/ready"}, "initial_delay_seconds": 5, "period_seconds": 1, "timeout_seconds": 2},
    "liveness_check": {"http_get": {"path": "/ready"}, "period_seconds": 2, "timeout_seconds": 2, "failure_threshold": 4}
  }]
}`

// The dashboard shows the advice at risk under its header: a real slow
// starter, the page in headless Chromium.
func TestDashboardShowsAdvice(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rt, err := runtime.New(ctx, runtime.Config{}, zerolog.Nop())
	if err != nil {
		needOrSkip(t, "containerd: %v", err)
	}
	archive := filepath.Join(t.TempDir(), "example.tar")
	err = build.Build(ctx, build.Options{Out: archive, Shell: true, Ref: dashImage, Dir: ".."})
	if err == nil {
		var f *os.File
		if f, err = os.Open(archive); err == nil {
			_, err = rt.Load(ctx, f)
			f.Close()
		}
	}
	rt.Close()
	if err != nil {
		t.Fatalf("build and load the example image: %v", err)
	}

	name := fmt.Sprintf("dashadv_%d", os.Getpid())
	file := filepath.Join(t.TempDir(), "service.json")
	if err := os.WriteFile(file, fmt.Appendf(nil, adviceService, name, dashImage), 0o644); err != nil {
		t.Fatal(err)
	}
	policy, _ := scheduler.ParseRestartPolicy("always")
	s, err := Start(ctx, Options{
		File: file, RestartPolicy: policy, BackoffInitial: time.Second, BackoffMax: 10 * time.Second, StopGrace: 2 * time.Second,
		Listen: "127.0.0.1:0", RegistryDir: t.TempDir(), Out: io.Discard, Err: io.Discard, Log: zerolog.Nop(),
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
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err = s.sched.WaitReady(wctx)
	wcancel()
	if err != nil {
		t.Fatalf("the service did not get ready: %v", err)
	}

	actx, acancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chrome), chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	sctx, scancel := context.WithTimeout(bctx, time.Minute)
	defer scancel()
	var text string
	want := fmt.Sprintf("advice: c0 liveness (%s-0): startup took ", name)
	err = chromedp.Do(sctx,
		chromedp.Navigate(s.DashboardURL()),
		discard(chromedp.Poll[bool](fmt.Sprintf(`!document.querySelector('#advice').hidden && document.querySelector('#advice li').textContent.startsWith(%q)`, want), chromedp.WithPollingTimeout(30*time.Second))),
		into(chromedp.Text(chromedp.CSS(`#advice li`)), &text),
	)
	if err != nil {
		t.Fatalf("the dashboard did not show the slow-start advice: %v", err)
	}
	t.Logf("dashboard: %s", text)
}
