package session

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
	chrome, ctx := browserTest(t, 3*time.Minute)

	name := fmt.Sprintf("dashadv_%d", os.Getpid())
	s := startReady(t, ctx, writeService(t, t.TempDir(), adviceService, name), time.Minute)
	defer stopSession(t, s)

	bctx, bcancel := newBrowser(t, ctx, chrome)
	defer bcancel()
	sctx, scancel := context.WithTimeout(bctx, time.Minute)
	defer scancel()
	var text string
	want := fmt.Sprintf("advice: c0 liveness (%s-0): startup took ", name)
	err := chromedp.Do(sctx,
		chromedp.Navigate(s.DashboardURL()),
		discard(chromedp.Poll[bool](fmt.Sprintf(`!document.querySelector('#advice').hidden && document.querySelector('#advice li').textContent.startsWith(%q)`, want), chromedp.WithPollingTimeout(30*time.Second))),
		into(chromedp.Text(chromedp.CSS(`#advice li`)), &text),
	)
	if err != nil {
		t.Fatalf("the dashboard did not show the slow-start advice: %v", err)
	}
	t.Logf("dashboard: %s", text)
}
