package admin_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/testutil"
)

// entry is an entry of process pid, identified as Register would.
func entry(name string, pid int) admin.Entry {
	e := admin.Entry{Name: name, PID: pid, AdminURL: "http://127.0.0.1:1", AdminToken: "tok",
		Started: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)}
	if p, err := admin.ProcessOf(pid); err == nil {
		e.SetProcess(p)
	}
	return e
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

// Entries whose process is gone are not listed, but kept: they are how
// `down` finds what a crashed run left. Their name can be registered
// again.
func TestRegistryStaleEntries(t *testing.T) {
	reg := admin.Registry{Dir: t.TempDir()}
	if err := reg.Register(entry("old", testutil.EndedPID(t))); err != nil {
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
	if _, err := reg.Lookup("old"); !errors.Is(err, admin.ErrUnknownService) || !strings.Contains(err.Error(), "ended without stopping it; `easlocal down old` removes what it left behind") {
		t.Errorf("Lookup(old) of a crashed service: %v", err)
	}
	all, err := reg.Entries()
	if err != nil || len(all) != 2 || all[0].Name != "live" || !all[0].Running() || all[1].Name != "old" || all[1].Running() {
		t.Errorf("Entries = %+v, %v; want live (running) and old (not)", all, err)
	}
	if _, err := os.Stat(filepath.Join(reg.Dir, "old.json")); err != nil {
		t.Errorf("the crashed run's entry was removed by a lookup: %v", err)
	}
	if err := reg.Register(entry("old", testutil.EndedPID(t))); err != nil {
		t.Errorf("registering over a stale entry: %v", err)
	}
	if err := reg.Unregister(entry("live", os.Getpid())); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup(""); !errors.Is(err, admin.ErrNoService) || !strings.Contains(err.Error(), "old ended without stopping (`easlocal down old` removes what it left behind)") {
		t.Errorf("Lookup with only a crashed service: %v", err)
	}
}

// An entry whose PID now belongs to another process (same PID, another
// start time) is not running, and Register over it is allowed.
func TestRegistryReusedPID(t *testing.T) {
	reg := admin.Registry{Dir: t.TempDir()}
	p, err := admin.ProcessOf(testutil.StartSleeper(t).PID)
	if err != nil {
		t.Fatal(err)
	}
	e := entry("reused", p.PID)
	e.SetProcess(admin.Process{PID: p.PID, Start: p.Start - 1, Exe: "/usr/local/bin/easlocal"})
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.Get("reused"); got.PIDStart != p.Start-1 || got.Running() {
		t.Errorf("entry %+v: want the recorded start time kept and not running", got)
	}
	if _, err := reg.Lookup("reused"); !errors.Is(err, admin.ErrUnknownService) {
		t.Errorf("Lookup of an entry whose PID was reused: %v", err)
	}
	if err := reg.Register(entry("reused", os.Getpid())); err != nil {
		t.Errorf("Register over an entry whose PID was reused: %v", err)
	}
}

// The registry directory and its files are private from the first
// write, whatever modes existed before.
func TestRegistryModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "services")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the umask made of it
	lockPath := filepath.Join(dir, "demo.lock")
	if err := os.WriteFile(lockPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(lockPath, 0o644)
	reg := admin.Registry{Dir: dir}
	l, err := reg.TryLock("demo", admin.LockUp)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := reg.Register(entry("demo", os.Getpid())); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, lockPath: 0o600, filepath.Join(dir, "demo.json"): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
}

// A shared directory given as the registry (sticky, like /tmp) keeps its
// mode: making it 0700 would break everyone else's use of it.
func TestRegistrySharedDirKeepsMode(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	reg := admin.Registry{Dir: dir}
	l, err := reg.TryLock("demo", admin.LockUp)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if st, err := os.Stat(dir); err != nil || st.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
		t.Errorf("shared registry directory: mode %v, %v; want it kept", st.Mode(), err)
	}
}

// A service's lock is held by one process at a time; the loser learns
// who holds it and for what, and the lock is free again once released
// (or once its holder ends).
func TestLock(t *testing.T) {
	reg := admin.Registry{Dir: t.TempDir()}
	l, err := reg.TryLock("demo", admin.LockUp)
	if err != nil {
		t.Fatal(err)
	}
	// Another open file of the same lock conflicts as another process's
	// would (flock locks belong to the open file).
	_, err = reg.TryLock("demo", admin.LockUp)
	want := fmt.Sprintf("service demo is already starting/running (pid %d); stop it with `easlocal down demo` or rename this one", os.Getpid())
	if !errors.Is(err, admin.ErrAlreadyRunning) || err.Error() != want {
		t.Errorf("second TryLock: %v; want %q", err, want)
	}
	if other, err := reg.TryLock("other", admin.LockUp); err != nil {
		t.Errorf("another service's lock: %v", err)
	} else {
		other.Release()
	}
	l.Release()
	l.Release() // idempotent
	d, err := reg.TryLock("demo", admin.LockDown)
	if err != nil {
		t.Fatalf("TryLock after Release: %v", err)
	}
	defer d.Release()
	if _, err := reg.TryLock("demo", admin.LockUp); !errors.Is(err, admin.ErrAlreadyRunning) || !strings.Contains(err.Error(), "is being cleaned up by `easlocal down`") {
		t.Errorf("TryLock while down cleans up: %v", err)
	}

	// A lock held by a process that ended is free.
	sub := exec.Command("flock", "-n", filepath.Join(reg.Dir, "gone.lock"), "true")
	if out, err := sub.CombinedOutput(); err != nil {
		t.Skipf("flock(1) unavailable: %v %s", err, out)
	}
	if g, err := reg.TryLock("gone", admin.LockUp); err != nil {
		t.Errorf("lock of an ended holder: %v", err)
	} else {
		g.Release()
	}
}

// AdoptLock takes over a lock handed down through an open file, and
// refuses a file that is not the service's lock.
func TestAdoptLock(t *testing.T) {
	reg := admin.Registry{Dir: t.TempDir()}
	l, err := reg.TryLock("demo", admin.LockUp)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	f, err := os.Open(l.File().Name()) // not the open file that holds it
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := reg.AdoptLock("demo", f, admin.LockUp); !errors.Is(err, admin.ErrAlreadyRunning) {
		t.Errorf("adopting through another open file: %v", err)
	}
	// A copy of the descriptor shares the open file: closing it (as a
	// refused adoption does) keeps the lock.
	fd, err := unix.Dup(int(l.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.AdoptLock("other", os.NewFile(uintptr(fd), "copy"), admin.LockUp); err == nil || !strings.Contains(err.Error(), "is not") {
		t.Errorf("adopting demo's lock as other's: %v", err)
	}
	a, err := reg.AdoptLock("demo", l.File(), admin.LockUp)
	if err != nil {
		t.Fatalf("adopting the holding file: %v", err)
	}
	_ = a
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

// The last holder removes the lock file; a process that opened the old
// file before that and locks it after does not hold the service's lock:
// the next TryLock takes the new file, and it is exclusive again.
func TestLockRemove(t *testing.T) {
	reg := admin.Registry{Dir: t.TempDir()}
	path := filepath.Join(reg.Dir, "demo.lock")
	l, err := reg.TryLock("demo", admin.LockUp)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	l.Remove()
	l.Remove() // idempotent
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("lock file after Remove: %v, want it gone", err)
	}
	if err := syscall.Flock(int(old.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("locking the removed file: %v", err)
	}
	n, err := reg.TryLock("demo", admin.LockUp)
	if err != nil {
		t.Fatalf("TryLock while only the removed file is locked: %v", err)
	}
	defer n.Remove()
	if _, err := reg.TryLock("demo", admin.LockUp); !errors.Is(err, admin.ErrAlreadyRunning) {
		t.Errorf("second TryLock of the new lock: %v, want ErrAlreadyRunning", err)
	}
}
