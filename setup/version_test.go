package setup

import (
	"runtime/debug"
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
		want              Version
	}{
		{"ldflags", "dev", "feedbeef", stamped, Version{"dev", "feedbeef", "go1.26.6"}},
		{"vcs stamp", "dev", "", stamped, Version{"dev", "0123abcd+dirty", "go1.26.6"}},
		{"go install", "dev", "", &debug.BuildInfo{GoVersion: "go1.26.6", Main: debug.Module{Version: "v1.2.3"}},
			Version{"v1.2.3", "unknown", "go1.26.6"}},
		{"release build", "v2.0.0", "cafe", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, Version{"v2.0.0", "cafe", ""}},
		{"no build info", "dev", "", nil, Version{"dev", "unknown", ""}},
	} {
		if got := BuildVersion(tc.ldVersion, tc.commit, tc.bi); got != tc.want {
			t.Errorf("%s: BuildVersion = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
