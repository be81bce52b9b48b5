package main

import (
	"strings"
	"testing"
)

// Command-line mistakes exit 2 with a sentence; `version` exits 0.
func TestExitStatuses(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{[]string{"frob"}, 2, `unknown command "frob"`, ""},
		{[]string{"--log-level", "loud", "version"}, 2, "--log-level", ""},
		{[]string{"up"}, 2, "needs one SERVICE.json", ""},
		{[]string{"run", "x.json"}, 2, "needs SERVICE.json and a command", ""},
		{[]string{"up", "--restart-policy", "sometimes", "x.json"}, 2, "--restart-policy", ""},
		{[]string{"version"}, 0, "", "easlocal "},
	} {
		stdout, stderr, code := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) || !strings.Contains(stdout, tc.stdout) {
			t.Errorf("easlocal %s: exit %d, stdout %q, stderr %q; want exit %d, stderr with %q, stdout with %q",
				strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.stderr, tc.stdout)
		}
	}
}
