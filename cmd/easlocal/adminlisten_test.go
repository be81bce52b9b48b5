package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// --admin-listen wants HOST:PORT; an address other machines can reach is
// taken, with a warning, because the user wrote it.
func TestAdminListenFlag(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	for _, tc := range []struct {
		addr string
		code int
		warn bool
		err  string
	}{
		{addr: "9101", code: 2, err: "write HOST:PORT"},
		{addr: "127.0.0.1:metrics", code: 2, err: "is not a port"},
		{addr: "127.0.0.1:9101", code: 1},
		{addr: "localhost:9101", code: 1},
		{addr: "[::1]:9101", code: 1},
		{addr: "127.0.0.2:0", code: 1},
		{addr: "0.0.0.0:9101", code: 1, warn: true},
		{addr: ":9101", code: 1, warn: true},
		{addr: "[::]:9101", code: 1, warn: true},
		{addr: "192.168.1.10:9101", code: 1, warn: true},
	} {
		// The missing service file stops `up` after the flags were read,
		// before anything starts.
		_, stderr, code := runCLI(t, "up", "--admin-listen", tc.addr, missing)
		warned := strings.Contains(stderr, "warning: --admin-listen "+tc.addr+" is not a loopback address") &&
			strings.Contains(stderr, "without a token")
		if code != tc.code || warned != tc.warn || !strings.Contains(stderr, tc.err) {
			t.Errorf("up --admin-listen %s: exit %d, stderr %q; want exit %d, warning %v, error with %q",
				tc.addr, code, stderr, tc.code, tc.warn, tc.err)
		}
		if tc.code == 1 && !strings.Contains(stderr, "missing.json") {
			t.Errorf("up --admin-listen %s: stderr %q, want the missing file's error after the flags were accepted", tc.addr, stderr)
		}
	}
}
