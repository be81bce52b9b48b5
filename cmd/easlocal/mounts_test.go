package main

import (
	"strings"
	"testing"
)

// TestParseMountsWarnsAboutHostDirs pins that --mount of a sensitive host
// directory is accepted (it is the user's call) but never silently.
func TestParseMountsWarnsAboutHostDirs(t *testing.T) {
	m, warnings, err := parseMounts([]string{"/cfg=/etc:ro", "/data=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if m["/cfg"] != "/etc:ro" {
		t.Errorf("mounts = %v", m)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "/etc") {
		t.Errorf("warnings = %q, want one about /etc and none about the temporary directory", warnings)
	}
	if _, _, err := parseMounts([]string{"relative=/tmp"}); err == nil {
		t.Error("a relative mount path was accepted")
	}
}
