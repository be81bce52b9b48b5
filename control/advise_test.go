package control

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/easlocal/easlocal/admin"
)

// advise prints risks with "!", other advice indented, a sentence when
// there is none, and the report itself with --json.
func TestPrintAdvice(t *testing.T) {
	rep := admin.AdviceReport{Service: "demo",
		Advice: []admin.Advice{
			{Container: "c0", Instance: "demo-0", Probe: "readiness", Rule: "latency", Risk: true, Message: "readiness probe p99 latency 0.8 s with timeout 1 s"},
			{Container: "c1", Rule: "no-readiness", Message: "no readiness check"},
		},
		Observed: []admin.ObservedContainer{{Instance: "demo-0", Container: "c0"}, {Instance: "demo-0", Container: "c1"}},
	}
	var b bytes.Buffer
	if err := printAdvice(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := "advice for service demo (1 at risk on EAS), from 2 container(s) observed:\n" +
		"! c0 readiness (demo-0): readiness probe p99 latency 0.8 s with timeout 1 s\n" +
		"  c1: no readiness check\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	printAdvice(&b, admin.AdviceReport{Service: "demo", Observed: rep.Observed[:1]})
	if got := b.String(); got != "no advice for service demo: its probes leave room in what easlocal saw of 1 container(s)\n" {
		t.Errorf("no advice: %q", got)
	}
	b.Reset()
	printAs(&b, rep, true, printAdvice)
	var back admin.AdviceReport
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back.Advice) != 2 || back.Advice[0].Rule != "latency" {
		t.Errorf("--json: %v %+v", err, back)
	}
}
