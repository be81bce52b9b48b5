package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/runtime"
)

// While another process starts or runs the service (it holds the
// service's lock), Start fails at once with who that is, before it
// touches the runtime: it must not remove the other run's pods as
// leftovers.
func TestStartRefusedWhileLocked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "service.json")
	if err := os.WriteFile(file, []byte(`{"metadata": {"name": "locked", "instance": 1},
		"containers": [{"image": "easlocal.local/example:latest", "port": 8000}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := admin.Registry{Dir: filepath.Join(dir, "services")}
	held, err := reg.TryLock("locked", admin.LockUp)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	// A runtime that cannot be reached: reaching it would fail otherwise.
	rtcfg := runtime.Config{Address: filepath.Join(dir, "no-containerd.sock"), StateDir: filepath.Join(dir, "state"), RunDir: filepath.Join(dir, "run")}
	_, err = Start(context.Background(), Options{File: file, Listen: "127.0.0.1:0", RegistryDir: reg.Dir,
		Runtime: rtcfg, Out: io.Discard, Err: io.Discard, Log: zerolog.Nop()})
	want := fmt.Sprintf("service locked is already starting/running (pid %d)", os.Getpid())
	if !errors.Is(err, admin.ErrAlreadyRunning) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Start while the lock is held: %v; want %q", err, want)
	}
	for _, d := range []string{rtcfg.StateDir, rtcfg.RunDir} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("Start touched the runtime (%s exists: %v)", d, err)
		}
	}
}
