package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// Every command that prints state has --json, and what it prints parses:
// one JSON value, or JSON lines for events.
func TestJSONOutputsParse(t *testing.T) {
	dir := t.TempDir()
	svc := startService(t, dir, demoStatus())
	svc.fake.Publish(admin.Event{Time: time.Now(), Instance: "demo-0", Container: "c0", Reason: "Started", Message: "started container c0"})
	svc.fake.Publish(admin.Event{Time: time.Now(), Instance: "demo-1", Reason: "Killing", Message: "liveness probe failed"})
	for _, tc := range []struct {
		args  []string
		code  int
		lines bool
		ctl   bool // against the running fake service
	}{
		{args: []string{"version", "--json"}},
		{args: []string{"doctor", "--json", "--cni-bin-dir", t.TempDir()}, code: 1},
		{args: []string{"validate", "--json", "../../examples/demo/service.json"}},
		{args: []string{"ps", "--json"}, ctl: true},
		{args: []string{"endpoints", "--json"}, ctl: true},
		{args: []string{"events", "--json"}, ctl: true, lines: true},
	} {
		var out, errOut string
		var code int
		if tc.ctl {
			r := ctl(t, dir, tc.args...)
			out, errOut, code = r.out, r.err, r.code
		} else {
			out, errOut, code = runCLI(t, tc.args...)
		}
		name := strings.Join(tc.args, " ")
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d; stderr %q", name, code, tc.code, errOut)
			continue
		}
		docs := []string{out}
		if tc.lines {
			docs = nil
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				docs = append(docs, sc.Text())
			}
		}
		if len(docs) == 0 || strings.TrimSpace(docs[0]) == "" {
			t.Errorf("%s printed nothing", name)
		}
		for _, d := range docs {
			var v any
			if err := json.Unmarshal([]byte(d), &v); err != nil {
				t.Errorf("%s: not JSON (%v):\n%s", name, err, d)
			}
		}
	}
	// doctor --json says what failed, not only that something did.
	out, _, _ := runCLI(t, "doctor", "--json", "--cni-bin-dir", t.TempDir())
	var report struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
			Fix  string `json:"fix"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || report.OK {
		t.Fatalf("doctor --json without CNI plugins: %v, %s", err, out)
	}
	found := false
	for _, c := range report.Checks {
		if c.Name == "cni plugins" && !c.OK && strings.Contains(c.Fix, "containernetworking-plugins") {
			found = true
		}
	}
	if !found {
		t.Errorf("doctor --json does not report the missing CNI plugins with their fix: %s", out)
	}
}
