package serve

import (
	"strings"
	"testing"
)

// TestParseMountsWarnsAboutHostDirs pins that --mount of a sensitive host
// directory is accepted (it is the user's call) but never silently.
func TestParseMountsWarnsAboutHostDirs(t *testing.T) {
	m, warnings, err := ParseMounts([]string{"/cfg=/etc:ro", "/data=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if m["/cfg"] != "/etc:ro" {
		t.Errorf("mounts = %v", m)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "/etc") {
		t.Errorf("warnings = %q, want one about /etc and none about the temporary directory", warnings)
	}
	if _, _, err := ParseMounts([]string{"relative=/tmp"}); err == nil {
		t.Error("a relative mount path was accepted")
	}
}

// --mount's MOUNT_PATH follows the rules of storage[].mount_path.
func TestParseMountsRefusesUnsafePaths(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"/..", "/", "/a/../../..", "/proc", "/dev/null"} {
		if _, _, err := ParseMounts([]string{p + "=" + dir}); err == nil {
			t.Errorf("--mount %s=%s accepted", p, dir)
		}
	}
	if _, _, err := ParseMounts([]string{"/models=" + dir, "/dev/shm=" + dir}); err != nil {
		t.Errorf("good mounts refused: %v", err)
	}
}
