package session

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
)

// Setup shared by the dashboard's browser tests: each runs a real
// service from the example image and drives its dashboard in headless
// Chromium.

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

// browserTest skips the test (or fails it on CI) unless it can run a
// browser test, loads the example image as dashImage, and returns the
// path of Chromium and a context that ends after timeout or with the
// test.
func browserTest(t *testing.T, timeout time.Duration) (chrome string, ctx context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: needs root, containerd and chromium (run without -short)")
	}
	if os.Geteuid() != 0 {
		needOrSkip(t, "needs root")
	}
	chrome = findChromium()
	if chrome == "" {
		needOrSkip(t, "chromium is not installed (apt-get install chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)

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
	return chrome, ctx
}

// writeService writes the service tmpl (a format taking the service's
// name and image) for dashImage as dir/service.json and returns its path.
func writeService(t *testing.T, dir, tmpl, name string) string {
	t.Helper()
	file := filepath.Join(dir, "service.json")
	if err := os.WriteFile(file, fmt.Appendf(nil, tmpl, name, dashImage), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// startReady starts a session of the service in file, restarting
// always, and waits up to ready for it to be ready. The caller defers
// stopSession.
func startReady(t *testing.T, ctx context.Context, file string, ready time.Duration) *Session {
	t.Helper()
	policy, _ := scheduler.ParseRestartPolicy("always")
	s, err := Start(ctx, Options{
		File: file, RestartPolicy: policy, BackoffInitial: time.Second, BackoffMax: 10 * time.Second, StopGrace: 2 * time.Second,
		Listen: "127.0.0.1:0", RegistryDir: t.TempDir(), Out: io.Discard, Err: io.Discard, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	wctx, wcancel := context.WithTimeout(ctx, ready)
	err = s.sched.WaitReady(wctx)
	wcancel()
	if err != nil {
		stopSession(t, s)
		t.Fatalf("the service did not get ready: %v", err)
	}
	return s
}

// stopSession stops s and waits until it has cleaned up.
func stopSession(t *testing.T, s *Session) {
	s.Stop()
	if err := s.Wait(context.Background(), func() {}); err != nil {
		t.Errorf("teardown: %v", err)
	}
}

// newBrowser starts headless Chromium for ctx's lifetime, with the
// options given added to the ones every browser test uses; cancel ends
// it.
func newBrowser(t *testing.T, ctx context.Context, chrome string, opts ...chromedp.ExecAllocatorOption) (bctx context.Context, cancel func()) {
	t.Helper()
	opts = append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(chrome), chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir())}, opts...)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	cancel = func() { bcancel(); acancel() }
	// The first Do starts the browser for bctx's lifetime: no timeout on it.
	if err := chromedp.Do(bctx); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	return bctx, cancel
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
