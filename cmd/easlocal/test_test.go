package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `easlocal test --check` validates without running: exit 0 with what
// each scenario would do, exit 2 with every error of a bad file, and no
// file at all is a usage error.
func TestTestCheck(t *testing.T) {
	out, errOut, code := runCLI(t, "test", "--check", "../../examples/scenarios/kill-under-load.yaml", "../../examples/scenarios/pause-phases.yaml")
	if code != 0 || !strings.Contains(out, "scenario kill-under-load (") || !strings.Contains(out, "fault: kill of instance 0 at 4s") ||
		!strings.Contains(out, "scenario pause-direct (") || !strings.Contains(out, "expect: failed requests <= 0") {
		t.Errorf("--check of the examples: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("service: nope.json\nload: {rate: 1}\nexpect: {max_failed: lots}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "test", "--check", bad)
	for _, want := range []string{bad + " is not a valid scenario file (3 errors):", bad + ":1: service:", bad + ":2: load.duration: missing", bad + `:3: expect.max_failed: "lots"`} {
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("--check of a bad file: exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
	if out != "" {
		t.Errorf("stdout %q for a bad file", out)
	}
	if _, errOut, code := runCLI(t, "test"); code != 2 || !strings.Contains(errOut, "test needs a scenario file") {
		t.Errorf("no file: exit %d, %s", code, errOut)
	}
}
