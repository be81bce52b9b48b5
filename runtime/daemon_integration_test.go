package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
)

// Several easlocals starting at once on a machine where no containerd
// runs start exactly one private containerd and share it; one that starts
// after the daemon died (leaving its socket behind) starts a new one.
// The test uses its own state and run directories, so its daemon is not
// the one the other tests share.
func TestPrivateContainerdStartedOnceAndReused(t *testing.T) {
	needRuntime(t)
	if c, err := dial(context.Background(), DefaultAddress); err == nil {
		c.Close()
		t.Skip("a system containerd answers at " + DefaultAddress + ": New would use it, not a private one")
	}
	runDir, err := os.MkdirTemp("/run", "easlocal-test-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{StateDir: t.TempDir(), RunDir: runDir}
	pidFile := filepath.Join(runDir, "containerd", "containerd.pid")
	t.Cleanup(func() {
		testutil.StopDaemon(t, pidFile)
		os.RemoveAll(runDir)
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 4
	rts := make([]*Runtime, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rts[i], errs[i] = New(ctx, cfg, testLogger()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("New %d: %v", i, errs[i])
		}
		defer rts[i].Close()
		if rts[i].Address() != cfg.PrivateAddress() {
			t.Errorf("New %d uses %s, want the private %s", i, rts[i].Address(), cfg.PrivateAddress())
		}
	}
	pid := testutil.ReadPID(t, pidFile)
	if got := daemonsWithConfig(t, filepath.Join(cfg.StateDir, "containerd", "config.toml")); got != 1 {
		t.Errorf("%d private containerds running, want 1", got)
	}
	// It answers for real: the namespace is usable.
	if _, err := rts[0].Images(ctx); err != nil {
		t.Errorf("Images on the private containerd: %v", err)
	}

	// Killed: the socket stays behind, and the next New starts a new one.
	syscall.Kill(pid, syscall.SIGKILL)
	testutil.WaitGone(t, pid)
	again, err := New(ctx, cfg, testLogger())
	if err != nil {
		t.Fatalf("New after the daemon died: %v", err)
	}
	defer again.Close()
	if newPID := testutil.ReadPID(t, pidFile); newPID == pid {
		t.Errorf("no new daemon was started (pid %d)", newPID)
	}
}

// daemonsWithConfig counts containerd processes started with config.
func daemonsWithConfig(t *testing.T, config string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "containerd\x00--config\x00"+config+"\x00") {
			n++
		}
	}
	return n
}
