package main

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

// The commit comes from -ldflags, else from go build's VCS stamp (with
// +dirty for a modified tree), else it is "unknown"; a module version
// replaces "dev".
func TestBuildVersion(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.6", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name              string
		ldVersion, commit string
		bi                *debug.BuildInfo
		want              versionInfo
	}{
		{"ldflags", "dev", "feedbeef", stamped, versionInfo{"dev", "feedbeef", "go1.26.6"}},
		{"vcs stamp", "dev", "", stamped, versionInfo{"dev", "0123abcd+dirty", "go1.26.6"}},
		{"go install", "dev", "", &debug.BuildInfo{GoVersion: "go1.26.6", Main: debug.Module{Version: "v1.2.3"}},
			versionInfo{"v1.2.3", "unknown", "go1.26.6"}},
		{"release build", "v2.0.0", "cafe", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, versionInfo{"v2.0.0", "cafe", ""}},
		{"no build info", "dev", "", nil, versionInfo{"dev", "unknown", ""}},
	} {
		if got := buildVersion(tc.ldVersion, tc.commit, tc.bi); got != tc.want {
			t.Errorf("%s: buildVersion = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

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
