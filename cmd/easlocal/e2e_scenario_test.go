package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/scenario"
)

// writeScenario puts a scenario file beside the service's service.json
// (so `service: service.json` finds it) and returns its path.
func (s *svc) writeScenario(name, body string) string {
	s.t.Helper()
	p := filepath.Join(filepath.Dir(s.file), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// test runs `easlocal test` on the service's scenario files with the
// flags every end-to-end test uses.
func (s *svc) test(within time.Duration, args ...string) binResult {
	s.t.Helper()
	return easlocal(s.t, within, nil, append(append([]string{"test"}, s.upArgs()...), args...)...)
}

// An instance killed under load: the gateway retries what the crash cut
// off, so no request fails, and the report and the JUnit file say so.
func TestE2EScenarioKillPasses(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_scnpass", "three")
	file := s.writeScenario("kill.yaml", `
name: kill-under-load
service: service.json
load: {rate: 40, path: /, duration: 10s}
faults:
  - {at: 3s, instance: 0, fault: kill}
expect:
  max_failed: 0
  p99: 2s
  recovered_within: 30s
  restarts: {0: 1, total: 1}
  status: {200: ">= 300"}
  events:
    - {fault: 0, sequence: [EndpointRemoved, EndpointAdded], within: 30s}
`)
	junit := filepath.Join(t.TempDir(), "report.xml")
	r := s.test(3*time.Minute, "--junit", junit, file)
	t.Logf("easlocal test:\n%s", r.out)
	if r.code != 0 {
		t.Fatalf("kill under load did not pass: %s", r)
	}
	for _, want := range []string{"PASS  scenario kill-under-load", "ok   failed requests: got 0 of ", "ok   restarts of instance 0 (" + s.name + "-0): got 1", "    requests  |"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`<testsuite name="kill-under-load" tests="7" failures="0" errors="0"`)) ||
		!bytes.Contains(b, []byte(`name="timeline.requests"`)) {
		t.Errorf("JUnit report:\n%s", b)
	}
	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		if out, err := exec.Command(xmllint, "--noout", "--schema", "../../scenario/testdata/junit.xsd", junit).CombinedOutput(); err != nil {
			t.Errorf("the JUnit report does not validate: %v\n%s", err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(s.reg, s.name+".json")); err == nil {
		t.Errorf("the service is still registered after easlocal test")
	}
}

// Two scenarios in one file, each against a fresh service: the first
// passes; the second blackholes an instance of a service without
// retries and wants no failed request, which cannot hold: the requests
// sent to the cut-off instance time out until its readiness probe has
// failed twice (2s timeouts) and it leaves the rotation. Exit 1, the
// report names the failures and the events around them, and the
// blackhole was reverted at its end (FaultReverted within its 6s).
func TestE2EScenarioMustFail(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_scnfail", "three")
	file := s.writeScenario("two.yaml", `
scenarios:
  - name: steady
    service: service.json
    instances: 2
    load: {rate: 20, path: /, duration: 3s}
    expect: {max_failed: 0, restarts: {total: 0}}
  - name: blackhole-without-retries
    service: service.json
    instances: 2
    up: {no_retry: true}
    load: {rate: 40, path: /, duration: 12s, timeout: 1s}
    faults:
      - {at: 2s, instance: 1, fault: blackhole, for: 6s}
    expect:
      max_failed: 0
      before: {max_failed: 0}
      recovered_within: 30s
      events:
        - {fault: 0, sequence: [FaultInjected, EndpointRemoved, FaultReverted], within: 7s}
`)
	r := s.test(4*time.Minute, "--json", file)
	if r.code != 1 {
		t.Fatalf("want exit 1 (an expectation failed): %s", r)
	}
	var rep scenario.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("--json output is not a report: %v\n%s", err, r.out)
	}
	if len(rep.Scenarios) != 2 || !rep.Scenarios[0].Passed || rep.Scenarios[1].Passed || rep.Passed {
		t.Fatalf("want the first scenario passed and the second failed: %s", r.out)
	}
	res := rep.Scenarios[1]
	t.Logf("blackhole without retries: %d of %d requests failed; failures: %+v", res.Failed, res.Requests, res.Failures)
	if res.Failed == 0 || len(res.Failures) == 0 {
		t.Fatalf("no failed request reported: %s", r.out)
	}
	var maxFailed, before, recovered, evs *scenario.Check
	for i, c := range res.Checks {
		switch c.Name {
		case "failed requests":
			maxFailed = &res.Checks[i]
		case "before the first fault: failed requests":
			before = &res.Checks[i]
		case "recovery after the last fault":
			recovered = &res.Checks[i]
		default:
			if strings.HasPrefix(c.Name, "events ") {
				evs = &res.Checks[i]
			}
		}
	}
	if maxFailed == nil || maxFailed.Passed || before == nil || !before.Passed || recovered == nil || !recovered.Passed || evs == nil || !evs.Passed {
		t.Errorf("checks %+v: want max_failed failed; the phase before the fault, the recovery and the events (reverted at its end) held", res.Checks)
	}
	removed := false
	for _, f := range res.Failures {
		for _, e := range f.Events {
			removed = removed || (e.Reason == "EndpointRemoved" && e.Instance == s.name+"-1")
		}
	}
	if !removed {
		t.Errorf("the events around the failures do not show %s-1 leaving the rotation: %+v", s.name, res.Failures)
	}

	// The same file as text: the verdicts, the failed expectation with its
	// numbers, and the summary line.
	r = s.test(4*time.Minute, file)
	t.Logf("easlocal test:\n%s", r.out)
	for _, want := range []string{"PASS  scenario steady", "FAIL  scenario blackhole-without-retries", "    FAIL failed requests: got ", "failures from +", "1 of 2 scenarios passed"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the text report lacks %q", want)
		}
	}
}

// Ctrl-C during the load tears the service down (the paused instance
// with it) and exits 1 with the scenario reported as interrupted;
// nothing is left behind (newSvc's cleanup checks).
func TestE2EScenarioInterrupted(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_scnint", "three")
	file := s.writeScenario("pause.yaml", `
name: interrupted
service: service.json
instances: 2
load: {rate: 20, path: /, duration: 60s}
faults:
  - {at: 1s, instance: 0, fault: pause}
expect: {max_failed: 0}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.bin, append(append([]string{"test"}, s.upArgs()...), file)...)
	cmd.Env = binEnv()
	var out bytes.Buffer
	errb := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = &out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 2*time.Minute, e2ePoll, "the load started", func() bool { return strings.Contains(errb.String(), "ready; load") })
	time.Sleep(3 * time.Second) // the pause is on
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	t.Logf("exit %d (%v)\nstdout:\n%s\nstderr:\n%s", code, err, out.String(), errb.String())
	if code != 1 || !strings.Contains(out.String(), "interrupted") {
		t.Errorf("want exit 1 and the scenario reported interrupted")
	}
}

// Bad scenario files: exit 2, every error with its file, line and field,
// and nothing is started.
func TestE2EScenarioBadFiles(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_scnbad", "three")
	file := s.writeScenario("bad.yaml", `name: bad
service: service.json
load: {rate: 40, duration: 20s}
faults:
  - {at: 4s, instance: 7, fault: kill}
  - {at: 30s, instance: 0, fault: blackhol}
expect: {max_faild: 0}
`)
	syntax := s.writeScenario("syntax.yaml", "name: [unclosed\n")
	junit := filepath.Join(t.TempDir(), "report.xml")
	r := s.test(time.Minute, "--junit", junit, file, syntax)
	if r.code != 2 {
		t.Fatalf("want exit 2 for bad scenario files: %s", r)
	}
	for _, want := range []string{
		file + ":5: faults[0].instance: 7, but the service runs 3 instance(s)",
		file + `:6: faults[1].fault: "blackhol" is not a fault; did you mean blackhole?`,
		file + ":7: expect.max_faild: unknown field; did you mean max_failed?",
		syntax + ": not valid YAML: line 1:",
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	if _, err := os.Stat(junit); err == nil {
		t.Error("a JUnit report was left although nothing ran")
	}
	if strings.Contains(r.err, "starting") {
		t.Errorf("a service was started for a bad file:\n%s", r.err)
	}
	if r := s.test(time.Minute); r.code != 2 || !strings.Contains(r.err, "test needs a scenario file") {
		t.Errorf("without a file: %s", r)
	}
}
