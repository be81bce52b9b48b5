package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// `easlocal version` names a commit, as a sentence and as JSON.
func TestVersionCommand(t *testing.T) {
	old := commit
	commit = "0123456789abcdef0123456789abcdef01234567"
	t.Cleanup(func() { commit = old })
	out, _, code := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "easlocal ") || !strings.Contains(out, "(commit "+commit) {
		t.Errorf("version: exit %d, %q; want the commit", code, out)
	}
	out, _, code = runCLI(t, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Commit != commit || v.Version == "" {
		t.Errorf("version --json: exit %d, %v: %q", code, err, out)
	}
}
