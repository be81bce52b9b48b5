package scenario

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/testutil"
)

// fakeReport runs a short scenario against the fake service (a kill that
// fails requests, so max_failed: 0 fails) and returns its report with a
// second scenario that could not run.
func fakeReport(t *testing.T) *Report {
	t.Helper()
	sc := Scenario{Name: "kill-under-load", File: "s.yaml", Service: "service.json",
		Load:   Load{Rate: 10, Method: "GET", Path: "/", Duration: 6 * time.Second, Mode: Gateway, Timeout: time.Second},
		Faults: []Fault{{Kind: Kill, At: 2 * time.Second, Index: 0}},
		Expect: Expect{Bounds: Bounds{MaxFailed: &Limit{N: 0}, P99: dur(time.Second)}, RecoveredWithin: dur(5 * time.Second),
			Events: []EventExpect{{Fault: 0, Sequence: []string{events.EndpointRemoved}, Within: time.Second}}},
	}
	var res Result
	synctest.Test(t, func(t *testing.T) {
		f := newFake(2 * time.Second)
		m := execute(t.Context(), sc, f, f, f.load(sc.Load.Duration))
		res = Result{Name: sc.Name, File: sc.File, Service: sc.Service, Started: m.Start, Seconds: 9.5}
		res.fill(sc, m)
	})
	rep := &Report{Scenarios: []Result{res, {Name: "no-image", File: "s.yaml", Error: "the service did not start: image easlocal.local/nope:1 is not loaded"}}}
	rep.finish()
	return rep
}

func TestTextReport(t *testing.T) {
	rep := fakeReport(t)
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"FAIL  scenario kill-under-load (s.yaml): 1 of 4 expectations failed",
		"    FAIL failed requests: got 7 of 60 (11.67%) (want <= 0)",
		"got 7 of 60 (11.67%)",
		"    ok   p99 latency: got 50ms (want <= 1s)",
		"    ok   recovery after the last fault: got 2s (want <= 5s)",
		"kill of instance 0 at 2s (demo-1): at +2.00s, restarted and ready at +4.00s",
		"    requests  |",
		"    before the first fault   +  0.00s to +  2.00s     20 requests,    0 failed, p50 5.0ms, p99 5.0ms",
		"    during fault 0           +  2.00s to +  4.00s     20 requests,    7 failed, p50 5.0ms, p99 50.0ms",
		"    after fault 0            +  4.00s to +  6.00s     20 requests,    0 failed, p50 5.0ms, p99 5.0ms",
		"    endpoints |",
		"    faults    |  0   |\n",
		"failures from +2s to +4s: 7 (status 502×7); events from +0s to +6s:",
		"demo-1     EndpointRemoved",
		"ERROR  scenario no-image (s.yaml)",
		"  error: the service did not start: image easlocal.local/nope:1 is not loaded",
		"0 of 2 scenarios passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if rep.Passed {
		t.Error("the report passed with a failed expectation")
	}
}

func TestSparkline(t *testing.T) {
	line, lo, hi := sparkline([]int{0, 1, 4, 8, 8, 2}, 1, false)
	if line != " ▂▅███▃"[:len(line)] && line != " ▂▅██▃" {
		t.Errorf("sparkline %q", line)
	}
	if lo != 0 || hi != 8 {
		t.Errorf("range %d..%d, want 0..8", lo, hi)
	}
	// Two values a column: sums, or the minimum for endpoints.
	if line, _, hi := sparkline([]int{1, 1, 2, 2}, 2, false); hi != 4 || len([]rune(line)) != 2 {
		t.Errorf("summed %q max %d", line, hi)
	}
	if _, lo, hi := sparkline([]int{3, 2, 3, 3}, 2, true); lo != 2 || hi != 3 {
		t.Errorf("min columns %d..%d, want 2..3", lo, hi)
	}
	// Any failure shows: a 1 among 100s is not blank.
	if line, _, _ := sparkline([]int{100, 1}, 1, false); []rune(line)[1] == ' ' {
		t.Errorf("a single failure is blank in %q", line)
	}
}

func TestJSONReport(t *testing.T) {
	rep := fakeReport(t)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	s := back.Scenarios[0]
	if back.Passed || s.Passed || s.Requests != 60 || s.Failed != 7 || len(s.Timeline) < 6 || len(s.Checks) != 4 || len(s.Failures) != 1 {
		t.Errorf("JSON report lost something: passed %v/%v requests %d failed %d timeline %d checks %d failures %d",
			back.Passed, s.Passed, s.Requests, s.Failed, len(s.Timeline), len(s.Checks), len(s.Failures))
	}
	if s.Timeline[2].Failed == 0 || s.Timeline[2].Endpoints != 2 || s.Timeline[0].Endpoints != 3 {
		t.Errorf("timeline seconds 0 and 2: %+v %+v, want 3 endpoints then 2 with failures", s.Timeline[0], s.Timeline[2])
	}
}

// xmllint validates the JUnit report against testdata/junit.xsd (the
// format CI systems read); a report that breaks the format is rejected,
// so the check is real.
func TestJUnitSchema(t *testing.T) {
	xmllint := testutil.NeedProgram(t, "xmllint") // from libxml2-utils
	rep := fakeReport(t)
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	validate := func(data []byte) (string, error) {
		f := filepath.Join(t.TempDir(), "junit.xml")
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmllint, "--noout", "--schema", "testdata/junit.xsd", f).CombinedOutput()
		return string(out), err
	}
	if out, err := validate(b.Bytes()); err != nil {
		t.Fatalf("the JUnit report does not validate: %v\n%s\n%s", err, out, b.String())
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 5 || doc.Failures != 1 || doc.Errors != 1 || len(doc.Suites) != 2 {
		t.Errorf("totals tests %d failures %d errors %d suites %d, want 5, 1, 1, 2", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
	props := map[string]string{}
	for _, p := range doc.Suites[0].Properties {
		props[p.Name] = p.Value
	}
	if props["phase.1"] != "during fault 0: +2.00s to +4.00s, 20 requests, 7 failed, p50 5.0ms, p99 50.0ms" {
		t.Errorf("phase property %q", props["phase.1"])
	}
	if !strings.HasPrefix(props["timeline.requests"], "10,10,10,") || !strings.HasPrefix(props["timeline.endpoints"], "3,3,2,") {
		t.Errorf("timeline properties %q %q", props["timeline.requests"], props["timeline.endpoints"])
	}
	broken := strings.Replace(b.String(), `classname="easlocal.scenario.kill-under-load"`, "", 1)
	if out, err := validate([]byte(broken)); err == nil {
		t.Errorf("the schema accepted a testcase without classname:\n%s", out)
	}
}

// A dip of the endpoints shorter than a sample shows in the timeline,
// from the events; events from before the first sample do not count.
func TestTimelineEndpointsFromEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	m := &measurement{Start: t0, LoadEnd: at(2 * time.Second), End: at(2 * time.Second),
		Samples: []sample{{At: at(0), Endpoints: 3}, {At: at(250 * time.Millisecond), Endpoints: 3}, {At: at(1250 * time.Millisecond), Endpoints: 3}},
		Events: []events.Event{
			{Time: at(-time.Second), Reason: events.EndpointAdded},
			{Time: at(1100 * time.Millisecond), Reason: events.EndpointRemoved},
			{Time: at(1200 * time.Millisecond), Reason: events.EndpointAdded},
		}}
	tl := timeline(m)
	if len(tl) != 2 || tl[0].Endpoints != 3 || tl[1].Endpoints != 2 {
		t.Errorf("timeline %+v, want 3 endpoints in second 0 and the dip to 2 in second 1", tl)
	}
}
