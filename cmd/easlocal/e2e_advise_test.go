package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/testutil"
)

// A slow starter without a startup_check: START_DELAY=3s keeps /ready
// failing, and the liveness check on /ready (period 2, failure threshold
// 4, first run 0 to 2 s after the start, at the pod's next tick) fails
// once or twice before it passes at about 4 s.
// It survives here with 2 s to spare, but the start races the liveness
// check, so the advisor says so: in up -d's output (readiness waits 5 s,
// after liveness passed), in `easlocal advise` with the measured start
// and the startup_check to add, in its --json, and in the line the
// foreground process prints (its output file).
func TestE2EAdviseSlowStarter(t *testing.T) {
	s := upSvc(t, "e2e_advise", "slowliveness")
	if in := s.instance(s.name + "-0"); !in.Ready || in.Restarts != 0 {
		t.Fatalf("after up -d: want ready with no restart (the start fits the liveness budget here), got %+v", in)
	}
	line := regexp.MustCompile(`advice: c0 liveness \(` + regexp.QuoteMeta(s.name) + `-0\): startup took [0-9.]+ s \(the liveness check failed (once|[0-9]+ times) before it first passed`)
	if !line.MatchString(s.upResult.out) {
		t.Errorf("up -d did not print the slow-start advice:\n%s", s.upResult)
	}

	out := s.mustCtl("advise", s.name)
	t.Logf("easlocal advise:\n%s", out)
	if !strings.HasPrefix(out, "advice for service "+s.name+" (1 at risk on EAS), from 1 container(s) observed:\n") ||
		!strings.Contains(out, "on EAS your liveness check (initial delay 0 s, period 2 s, failure threshold 4) would kill it if the start took longer than 6 to 8 s: add a startup_check with period 2 and failure_threshold ≥ ") {
		t.Errorf("advise output:\n%s", out)
	}

	var rep admin.AdviceReport
	if err := json.Unmarshal([]byte(s.mustCtl("advise", "--json", s.name)), &rep); err != nil {
		t.Fatal(err)
	}
	risks := rep.Risks()
	if len(risks) != 1 || risks[0].Rule != "slow-start" || risks[0].Probe != "liveness" || risks[0].Container != "c0" {
		t.Fatalf("advise --json: want one slow-start risk on c0's liveness, got %+v", rep.Advice)
	}
	if len(rep.Observed) != 1 {
		t.Fatalf("observed %+v: want the one container", rep.Observed)
	}
	lp := rep.Observed[0].Probes["liveness"]
	// The app answers 3 s after its start; the runs before that fail.
	if !lp.Succeeded || lp.FirstSuccess < 3 || lp.FailuresBeforeSuccess < 1 {
		t.Errorf("observed liveness %+v: want a first success after 3 s, after failures", lp)
	}
	// The foreground process (the background `up`) prints it as it appears.
	logFile := outputFile(t, s.upResult)
	testutil.WaitFor(t, 30*time.Second, e2ePoll, "the advice line in the service's output", func() bool {
		b, _ := os.ReadFile(logFile)
		return line.Match(b)
	})
}
