package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/service"
)

// The gateway token is --token, else the top-level token of
// service.json, and up says which one it uses.
func TestGatewayToken(t *testing.T) {
	for _, tc := range []struct{ flag, file, want, says string }{
		{"", "", "", ""},
		{"f", "", "f", ""},
		{"", "s", "s", "the token of service.json"},
		{"f", "s", "f", "--token (it overrides"},
	} {
		var b bytes.Buffer
		if got := gatewayToken(&b, tc.flag, tc.file); got != tc.want {
			t.Errorf("gatewayToken(%q, %q) = %q, want %q", tc.flag, tc.file, got, tc.want)
		}
		if tc.says == "" && b.Len() != 0 || !strings.Contains(b.String(), tc.says) {
			t.Errorf("gatewayToken(%q, %q) said %q, want %q", tc.flag, tc.file, b.String(), tc.says)
		}
	}
}

// --mount's MOUNT_PATH follows the rules of storage[].mount_path.
func TestParseMountsRefusesUnsafePaths(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"/..", "/", "/a/../../..", "/proc", "/dev/null"} {
		if _, err := parseMounts([]string{p + "=" + dir}); err == nil {
			t.Errorf("--mount %s=%s accepted", p, dir)
		}
	}
	if _, err := parseMounts([]string{"/models=" + dir, "/dev/shm=" + dir}); err != nil {
		t.Errorf("good mounts refused: %v", err)
	}
}

// easlocal scale is held to the same instance limit as up.
func TestScaleRespectsInstanceLimit(t *testing.T) {
	for _, tc := range []struct{ max, n int }{{0, service.DefaultMaxInstances + 1}, {3, 4}, {0, 100000}} {
		err := (&controller{maxInstances: tc.max}).Scale(tc.n)
		if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), "--max-instances") {
			t.Errorf("scale to %d with --max-instances %d: %v, want a refusal naming --max-instances", tc.n, tc.max, err)
		}
	}
}
