package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

// The subcommands exec probes and runtime exec tests use, without a shell.
func TestSubcommands(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "nope", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "fine")
	}))
	defer srv.Close()
	cases := []struct {
		args       []string
		code       int
		stdout     string // substring; "" means not checked
		stdoutSize int    // exact size when > 0
		stderr     string
	}{
		{args: []string{"exit", "3"}, code: 3},
		{args: []string{"exit", "0"}, code: 0},
		{args: []string{"exit", "300"}, code: 2, stderr: "300"},
		{args: []string{"spew", "2"}, code: 0, stdoutSize: 2 << 20},
		{args: []string{"spew", "x"}, code: 2, stderr: `"x"`},
		{args: []string{"sleep", "0"}, code: 0},
		{args: []string{"sleep", "soon"}, code: 2, stderr: "soon"},
		{args: []string{"env"}, code: 0, stdout: "PATH="},
		{args: []string{"hostname"}, code: 0},
		{args: []string{"get", srv.URL + "/ok"}, code: 0, stdout: "fine"},
		{args: []string{"get", srv.URL + "/bad"}, code: 1, stderr: "503"},
		{args: []string{"get"}, code: 2, stderr: "usage"},
		{args: []string{"dance"}, code: 2, stderr: "usage"},
		{args: []string{"serve", "-port", "x"}, code: 2},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr, noEnv)
		if code != c.code {
			t.Errorf("app %v: exit %d, want %d (stderr %q)", c.args, code, c.code, stderr.String())
		}
		if c.stdout != "" && !strings.Contains(stdout.String(), c.stdout) {
			t.Errorf("app %v: stdout %.80q, want it to contain %q", c.args, stdout.String(), c.stdout)
		}
		if c.stdoutSize > 0 && stdout.Len() != c.stdoutSize {
			t.Errorf("app %v: %d bytes on stdout, want %d", c.args, stdout.Len(), c.stdoutSize)
		}
		if c.stderr != "" && !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("app %v: stderr %q, want it to contain %q", c.args, stderr.String(), c.stderr)
		}
	}
}
