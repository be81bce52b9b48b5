package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
)

func writeService(t *testing.T, name string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "service.json")
	b := fmt.Appendf(nil, `{"metadata": {"name": %q, "instance": 1},
		"containers": [{"image": "easlocal.local/example:latest", "port": 8000}]}`, name)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// The output file of `up -d` holds the dashboard token and container
// output: it is 0600 in a 0700 directory from the first write, also when
// an older easlocal left them 0644 and 0755.
func TestDetachOutputIsPrivate(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(logDir, 0o755)
	logPath := filepath.Join(logDir, "up-demo.log")
	if err := os.WriteFile(logPath, []byte("old output\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(logPath, 0o644)
	// The background copy reports the mode of its output from inside and
	// that it received the lock as descriptor 3, then exits.
	err := Detach(context.Background(), DetachOptions{
		File: writeService(t, "demo"), Self: "/bin/sh",
		Args:   []string{"-c", `stat -L -c 'mode %a' /proc/self/fd/1; echo "lock $EASLOCAL_LOCK_FD $(readlink /proc/self/fd/3)"; exit 3`},
		LogDir: logDir, Registry: admin.Registry{Dir: t.TempDir()}, WaitTimeout: time.Minute, Out: io.Discard, Err: io.Discard,
	})
	if err == nil || !strings.Contains(err.Error(), "stopped before the service was ready") {
		t.Fatalf("Detach of a copy that exits: %v", err)
	}
	for path, want := range map[string]os.FileMode{logDir: 0o700, logPath: 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), "mode 600\n") || !strings.Contains(string(b), "lock 3 ") || !strings.HasSuffix(strings.TrimSpace(string(b)), "demo.lock") {
		t.Errorf("the copy's output: %q; want it written 0600 from the start and the lock as fd 3", b)
	}
}

// While the background copy of a first `up -d` runs, a second one of the
// same service fails at once naming that copy, and leaves its output
// file alone.
func TestDetachRefusedWhileRunning(t *testing.T) {
	file := writeService(t, "demo")
	logDir := t.TempDir()
	reg := admin.Registry{Dir: t.TempDir()}
	opts := DetachOptions{File: file, Self: "/bin/sh", Args: []string{"-c", "echo first; echo $$ > " + filepath.Join(logDir, "pid") + "; exec sleep 60"},
		LogDir: logDir, Registry: reg, WaitTimeout: time.Minute, Out: io.Discard, Err: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- Detach(ctx, opts) }()
	defer func() {
		cancel()
		<-first
	}()
	pidFile := filepath.Join(logDir, "pid")
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(pidFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first background copy never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid, _ := os.ReadFile(pidFile)
	second := opts
	second.Args = []string{"-c", "echo second"}
	err := Detach(context.Background(), second)
	want := fmt.Sprintf("service demo is already starting/running (pid %s)", strings.TrimSpace(string(pid)))
	if !errors.Is(err, admin.ErrAlreadyRunning) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("second Detach: %v; want %q", err, want)
	}
	if b, _ := os.ReadFile(filepath.Join(logDir, "up-demo.log")); string(b) != "first\n" {
		t.Errorf("the first copy's output became %q", b)
	}
}

// The gateway token is taken out of the background copy's command line
// in every spelling; other arguments stay as given.
func TestWithoutFlag(t *testing.T) {
	args := []string{"--log-level", "debug", "up", "-d", "--token", "s3cret", "--listen=127.0.0.1:0", "-token=s3cret",
		"--tokens", "x", "-token", "s3cret", "--token=s3cret", "svc.json", "--", "--token", "kept"}
	got := WithoutFlag(args, "token")
	want := []string{"--log-level", "debug", "up", "-d", "--listen=127.0.0.1:0", "--tokens", "x", "svc.json", "--", "--token", "kept"}
	if !slices.Equal(got, want) {
		t.Errorf("WithoutFlag = %q, want %q", got, want)
	}
}
