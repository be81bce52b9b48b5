package admin_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func entry(name string, pid int) admin.Entry {
	return admin.Entry{Name: name, PID: pid, AdminURL: "http://127.0.0.1:1", AdminToken: "tok",
		Started: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)}
}

// Registration writes one private file, atomically, that Lookup finds.
func TestRegistryRegisterLookup(t *testing.T) {
	reg := admin.Registry{Dir: filepath.Join(t.TempDir(), "services")}
	if _, err := reg.Lookup(""); !errors.Is(err, admin.ErrNoService) ||
		err.Error() != "no easlocal service is running; start one with `easlocal up FILE`" {
		t.Fatalf("empty registry: %v", err)
	}
	e := entry("demo", os.Getpid())
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(reg.Dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("registry file mode %v, want 0600 (it holds tokens)", st.Mode().Perm())
	}
	des, _ := os.ReadDir(reg.Dir)
	if len(des) != 1 {
		t.Errorf("registry holds %d files, want only demo.json (no temp files left)", len(des))
	}
	for _, name := range []string{"", "demo"} {
		got, err := reg.Lookup(name)
		if err != nil || got != e {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", name, got, err, e)
		}
	}
	if _, err := reg.Lookup("other"); !errors.Is(err, admin.ErrUnknownService) || !strings.Contains(err.Error(), "running: demo") {
		t.Errorf("Lookup(other): %v", err)
	}

	// Re-registering our own entry (e.g. a new gateway URL) is fine.
	e.GatewayURL = "http://127.0.0.1:9"
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.Lookup("demo"); got.GatewayURL != e.GatewayURL {
		t.Errorf("re-registration not visible: %+v", got)
	}

	// Another live process cannot take the name ...
	parent := entry("demo", os.Getppid())
	if err := reg.Register(parent); !errors.Is(err, admin.ErrAlreadyRunning) || !strings.Contains(err.Error(), "easlocal down demo") {
		t.Errorf("registering a taken name: %v", err)
	}
	// ... nor remove our entry.
	if err := reg.Unregister(parent); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup("demo"); err != nil {
		t.Errorf("another process's Unregister removed our entry: %v", err)
	}
	if err := reg.Unregister(e); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup(""); !errors.Is(err, admin.ErrNoService) {
		t.Errorf("after Unregister: %v", err)
	}
	if err := reg.Unregister(e); err != nil {
		t.Errorf("second Unregister: %v", err)
	}
}

// Entries whose process is gone are removed on lookup, and their name can
// be registered again.
func TestRegistryStaleEntries(t *testing.T) {
	reg := admin.Registry{Dir: t.TempDir()}
	if err := reg.Register(entry("old", deadPID(t))); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(reg.Dir, "junk.json"), []byte("{not json"), 0o600)
	if err := reg.Register(entry("live", os.Getpid())); err != nil {
		t.Fatal(err)
	}
	got, err := reg.Lookup("")
	if err != nil || got.Name != "live" {
		t.Fatalf("Lookup with one live and two stale entries = %+v, %v", got, err)
	}
	for _, f := range []string{"old.json", "junk.json"} {
		if _, err := os.Stat(filepath.Join(reg.Dir, f)); !os.IsNotExist(err) {
			t.Errorf("stale %s not removed: %v", f, err)
		}
	}
	if err := reg.Register(entry("old", deadPID(t))); err != nil {
		t.Errorf("registering over a stale entry: %v", err)
	}
}

// With several services the name is required, and the error lists them.
func TestRegistryAmbiguous(t *testing.T) {
	reg := admin.Registry{Dir: t.TempDir()}
	reg.Register(entry("beta", os.Getpid()))
	reg.Register(entry("alpha", os.Getppid()))
	_, err := reg.Lookup("")
	if !errors.Is(err, admin.ErrAmbiguous) ||
		err.Error() != "several easlocal services are running (alpha, beta); name one, e.g. `easlocal ps alpha`" {
		t.Errorf("ambiguous lookup: %v", err)
	}
	if got, err := reg.Lookup("beta"); err != nil || got.Name != "beta" {
		t.Errorf("Lookup(beta) = %+v, %v", got, err)
	}
}

func TestRegistryRejectsPathNames(t *testing.T) {
	reg := admin.Registry{Dir: t.TempDir()}
	for _, name := range []string{"", "../x", "a/b", ".hidden"} {
		if err := reg.Register(entry(name, os.Getpid())); err == nil {
			t.Errorf("Register(%q) succeeded", name)
		}
	}
}
