package session

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/events"
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

// TestDashboardBrowser runs a real service (containerd, the example
// image, Start) and drives the dashboard in headless Chromium, opened
// with the URL `up` prints (token in the fragment): every instance is
// listed with its IP and readiness and the token is gone from the
// address bar. A page on another port of 127.0.0.1, open in another tab
// of the same browser, then tries to scale, kill, pause and start the
// load through the control API with fetch and form POSTs: nothing
// happens and it reads nothing. The page's own buttons do act: pause and
// unpause an instance, scale up and down, load on (it shows in the
// chart), and kill (the instance restarts, its restart count goes up, a
// new Started event shows, it becomes ready again). /metrics agrees.
// With EASLOCAL_UPDATE_SCREENSHOT=1 it saves docs/dashboard.png.
func TestDashboardBrowser(t *testing.T) {
	chrome, ctx := browserTest(t, 4*time.Minute)

	name := fmt.Sprintf("dash_%d", os.Getpid())
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// instances: metadata.instance (2)
	s := startReady(t, ctx, writeService(t, dir, dashService, name), 2*time.Minute)
	defer stopSession(t, s)
	if s.dashboard == nil {
		t.Fatal("Start did not attach the dashboard")
	}

	bctx, bcancel := newBrowser(t, ctx, chrome,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 860),
	)
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
	var href string
	if err := step(10*time.Second, into(chromedp.Evaluate[string](`location.href`), &href)); err != nil || strings.Contains(href, "token") {
		t.Errorf("the address bar still holds the token: %q (%v)", href, err)
	}

	// Another page on 127.0.0.1, in another tab of the same browser,
	// cannot act on the control API nor read from it.
	client := admin.NewClient(s.entry)
	before0, err := client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, seqBefore, err := client.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, hostilePage, s.admin.URL(), inst1)
	}))
	defer evil.Close()
	etab, ecancel := chromedp.NewContext(bctx)
	defer ecancel()
	var report string
	ectx, ectxCancel := context.WithTimeout(etab, time.Minute)
	err = chromedp.Do(ectx, chromedp.Navigate(evil.URL),
		discard(chromedp.Poll[bool](`window.attackDone === true`, chromedp.WithPollingTimeout(30*time.Second))),
		into(chromedp.Evaluate[string](`JSON.stringify(window.report)`), &report))
	ectxCancel()
	if err != nil {
		t.Fatalf("the hostile page did not run: %v", err)
	}
	t.Logf("hostile page on %s: %s", evil.URL, report)
	if strings.Contains(report, `: read `) {
		t.Errorf("the hostile page read an answer of the control API: %s", report)
	}
	after0, err := client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after0.Desired != before0.Desired {
		t.Errorf("the hostile page scaled the service: desired %d → %d", before0.Desired, after0.Desired)
	}
	restarts := map[string]int{}
	for _, in := range before0.Instances {
		restarts[in.Name] = in.Restarts
	}
	for _, in := range after0.Instances {
		if r, ok := restarts[in.Name]; in.Paused || !ok || in.Restarts != r {
			t.Errorf("the hostile page reached instance %s: paused %v, restarts %d (before: %v)", in.Name, in.Paused, in.Restarts, restarts)
		}
	}
	evs, _, err := client.Events(ctx, seqBefore)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		switch e.Reason {
		case events.Killed, events.Scaled, events.Paused, events.Resumed, events.Stopped:
			t.Errorf("the hostile page caused event %s: %s", e.Reason, e.Message)
		}
	}
	var loadOn bool
	if err := step(10*time.Second, into(chromedp.Evaluate[bool](`state.load.on`), &loadOn)); err != nil || loadOn {
		t.Errorf("the hostile page turned the load generator on (%v)", err)
	}
	// The page without the token (a reload, a bookmark) says so and
	// sends nothing.
	var conn string
	ntab, ncancel := chromedp.NewContext(bctx)
	defer ncancel()
	nctx, nctxCancel := context.WithTimeout(ntab, time.Minute)
	err = chromedp.Do(nctx, chromedp.Navigate(s.admin.URL()+"/ui/"),
		discard(chromedp.Poll[bool](`document.querySelector('#conn').textContent === 'no token'`, chromedp.WithPollingTimeout(20*time.Second))),
		into(chromedp.Evaluate[string](`document.querySelector('#msg').textContent`), &conn))
	nctxCancel()
	if err != nil || !strings.Contains(conn, "easlocal up") {
		t.Errorf("the page without a token: %q (%v)", conn, err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Pause and unpause through the page.
	badge := func(in string) string {
		return fmt.Sprintf(`document.querySelector('%s td.state').textContent`, row(in))
	}
	if err := step(time.Minute,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-act="pause"][data-instance=%q]`, inst1))),
		poll(badge(inst1)+`.includes('Paused')`, 30*time.Second),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-act="unpause"][data-instance=%q]`, inst1))),
		poll(`!`+badge(inst1)+`.includes('Paused')`, 30*time.Second),
		poll(fmt.Sprintf(`document.querySelector('%s td.ready').textContent.includes('✓')`, row(inst1)), 60*time.Second),
	); err != nil {
		fail("pause and unpause through the page: %v", err)
	}
	// Scale up and down through the page.
	inst2 := name + "-2"
	if err := step(2*time.Minute,
		chromedp.Click(chromedp.CSS(`#scale-up`)),
		poll(`document.querySelector('#counts').textContent.endsWith('/3 ready')`, 30*time.Second),
		chromedp.WaitVisible(chromedp.CSS(row(inst2)+` td.ip`)),
		chromedp.Click(chromedp.CSS(`#scale-down`)),
		poll(`document.querySelector('#counts').textContent.endsWith('/2 ready')`, 30*time.Second),
		poll(fmt.Sprintf(`document.querySelector('%s') === null`, row(inst2)), 60*time.Second),
	); err != nil {
		fail("scale through the page: %v", err)
	}
	if st, err := client.Status(ctx); err != nil || st.Desired != 2 {
		t.Errorf("after scaling up and down the service wants %d instances (%v), want 2", st.Desired, err)
	}

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

	// An active fault is listed, and badged on its instance, until cleared.
	fault, err := s.faults.Inject(admin.Fault{Instance: inst1, Kind: admin.FaultHTTPDelay, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := step(time.Minute,
		poll(fmt.Sprintf(`(document.querySelector('#faults li[data-fault=%q]') || {}).textContent === "fault %s: http-delay 1ms on %s, until cleared"`, fault.ID, fault.ID, inst1), 20*time.Second),
		poll(fmt.Sprintf(`!!document.querySelector('%s td.state .badge[data-fault=%q]')`, row(inst1), fault.ID), 20*time.Second),
	); err != nil {
		fail("the page did not show the fault: %v", err)
	}
	if err := s.faults.Clear(fault.ID); err != nil {
		t.Fatal(err)
	}
	if err := step(time.Minute, poll(`document.querySelectorAll('#faults li, td.state .badge[data-fault]').length === 0`, 20*time.Second)); err != nil {
		fail("the page still shows the cleared fault: %v", err)
	}

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
	// Everything above ran within the page's Content-Security-Policy.
	var blocked string
	if err := step(10*time.Second, into(chromedp.Evaluate[string](`cspViolations.join("; ")`), &blocked)); err != nil || blocked != "" {
		t.Errorf("the Content-Security-Policy blocked part of the page: %q (%v)", blocked, err)
	}
}

// hostilePage is a page of another origin (another port of 127.0.0.1)
// open while the dashboard is: it tries what a browser lets any page do
// to the control API (%[1]s) — POSTs by fetch with and without CORS and
// with credentials, form POSTs, reading answers — against instance %[2]s.
// window.report lists what each try gave; "read" means an answer was
// readable.
const hostilePage = `<!doctype html><html><body>
<iframe name="sink"></iframe><iframe name="sink2"></iframe>
<form id="f1" method="POST" target="sink" action="%[1]s/v1/instances/%[2]s/kill"></form>
<form id="f2" method="POST" target="sink2" action="%[1]s/v1/scale?n=5"><input name="n" value="5"></form>
<script>
const api = %[1]q, inst = %[2]q;
window.report = [];
const tries = [
  ["scale no-cors", api + "/v1/scale?n=5", {method: "POST", mode: "no-cors", credentials: "include"}],
  ["kill no-cors", api + "/v1/instances/" + inst + "/kill", {method: "POST", mode: "no-cors", credentials: "include"}],
  ["pause cors", api + "/v1/instances/" + inst + "/pause", {method: "POST", credentials: "include"}],
  ["load no-cors", api + "/ui/load?on=1", {method: "POST", mode: "no-cors", credentials: "include"}],
  ["scale form-encoded", api + "/v1/scale?n=6", {method: "POST", mode: "no-cors", credentials: "include",
    headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "n=6"}],
  ["status", api + "/v1/status", {credentials: "include"}],
  ["events", api + "/v1/events", {}],
];
(async () => {
  for (const [what, url, opts] of tries) {
    try {
      const r = await fetch(url, opts);
      const body = r.type === "opaque" ? "" : await r.text();
      window.report.push(what + ": " + (r.type === "opaque" ? "sent, answer opaque" : "read " + r.status + " " + body.slice(0, 80)));
    } catch (e) { window.report.push(what + ": " + e); }
  }
  let loaded = 0;
  const done = () => { if (++loaded === 2) window.attackDone = true; };
  for (const n of ["sink", "sink2"]) document.querySelector("iframe[name=" + n + "]").onload = done;
  setTimeout(() => { window.attackDone = true; }, 5000);
  document.getElementById("f1").submit();
  document.getElementById("f2").submit();
})();
</script></body></html>`
