package main

import (
	"testing"
)

// --mount's MOUNT_PATH follows the rules of storage[].mount_path.
func TestParseMountsRefusesUnsafePaths(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"/..", "/", "/a/../../..", "/proc", "/dev/null"} {
		if _, _, err := parseMounts([]string{p + "=" + dir}); err == nil {
			t.Errorf("--mount %s=%s accepted", p, dir)
		}
	}
	if _, _, err := parseMounts([]string{"/models=" + dir, "/dev/shm=" + dir}); err != nil {
		t.Errorf("good mounts refused: %v", err)
	}
}
