package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Roles of a lock holder, named in the error another process gets.
const (
	LockUp   = "up"   // starts, runs and tears down the service
	LockDown = "down" // removes what a crashed run left behind
)

// Lock is a service's lock, <Dir>/<name>.lock, held (flock(2)) by the
// process that starts and runs the service, from before it removes an
// earlier run's leftovers until it has torn everything down, and by a
// `down` that cleans up after a crash. Two of them at once would remove
// each other's pods and write one log file. The kernel drops the lock
// when its process ends, however it ends, so a crashed holder never
// blocks the next. The file holds "PID ROLE" of the holder, for the
// error the loser gets. The last holder removes it (Remove): a process
// that opened the file just before and locks it after finds, by its
// inode, that the file it locked is no longer the lock, and opens the
// new one.
type Lock struct {
	f    *os.File
	name string
	path string
}

// TryLock takes service name's lock without waiting. While another
// process holds it the error (ErrAlreadyRunning) says which.
func (r Registry) TryLock(name, role string) (*Lock, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := r.ensureDir(); err != nil {
		return nil, err
	}
	path := r.lockFile(name)
	var f *os.File
	var err error
	for attempt := 0; ; attempt++ {
		f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("cannot open the lock of service %s: %w", name, err)
		}
		if err := f.Chmod(0o600); err != nil { // whatever mode it had before
			f.Close()
			return nil, fmt.Errorf("cannot make the lock of service %s private: %w", name, err)
		}
		if err := flockNB(f); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, busy(name, path)
			}
			return nil, fmt.Errorf("cannot lock service %s (%s): %w", name, path, err)
		}
		if isFileAt(f, path) {
			break
		}
		// The holder removed the file between our open and our lock:
		// what we locked is no longer the lock.
		f.Close()
		if attempt == 10 {
			return nil, fmt.Errorf("cannot lock service %s: %s keeps being replaced", name, path)
		}
	}
	l := &Lock{f: f, name: name, path: path}
	if err := l.SetHolder(os.Getpid(), role); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// AdoptLock takes over the lock of service name that the process which
// started this one took and passed down as f (`up -d`). It checks that
// f is that lock file and that the lock is held through it, then records
// this process as the holder.
func (r Registry) AdoptLock(name string, f *os.File, role string) (l *Lock, err error) {
	defer func() {
		if err != nil {
			f.Close() // this process's hold, if any, goes
		}
	}()
	if err := validName(name); err != nil {
		return nil, err
	}
	// Inherited descriptors survive exec; this one must not reach the
	// programs this process starts (containerd, CNI plugins), or they
	// would hold the lock after it ends.
	unix.CloseOnExec(int(f.Fd()))
	if !isFileAt(f, r.lockFile(name)) {
		return nil, fmt.Errorf("the lock handed down is not %s, the lock of service %s", r.lockFile(name), name)
	}
	// Locking again through the open file that holds the lock changes
	// nothing; it fails only if another open file holds it.
	if err := flockNB(f); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, busy(name, r.lockFile(name))
		}
		return nil, err
	}
	l = &Lock{f: f, name: name, path: r.lockFile(name)}
	if err := l.SetHolder(os.Getpid(), role); err != nil {
		return nil, err
	}
	return l, nil
}

// SetHolder records pid as the holder, e.g. the background copy `up -d`
// hands the lock to.
func (l *Lock) SetHolder(pid int, role string) error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("cannot write the lock of service %s: %w", l.name, err)
	}
	if _, err := l.f.WriteAt([]byte(strconv.Itoa(pid)+" "+role+"\n"), 0); err != nil {
		return fmt.Errorf("cannot write the lock of service %s: %w", l.name, err)
	}
	return nil
}

// File is the open lock file, to hand to a child (exec.Cmd.ExtraFiles)
// that then holds the lock too; see AdoptLock.
func (l *Lock) File() *os.File { return l.f }

// Release closes this process's hold on the lock. The lock is free once
// no process holds the open file any more: a child it was handed to
// keeps it. Safe to call more than once and on nil.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		l.f.Close() // no LOCK_UN: that would free it for a child too
		l.f = nil
	}
}

// Remove ends the lock for good: the last holder (the process that tore
// the service down, or a `down` that cleaned up after a crash) removes
// the file, then lets go of it. Safe to call more than once and on nil;
// it removes nothing that is not the file it holds.
func (l *Lock) Remove() {
	if l == nil || l.f == nil {
		return
	}
	if isFileAt(l.f, l.path) {
		os.Remove(l.path)
	}
	l.Release()
}

// isFileAt reports whether path names the open file f (same inode).
func isFileAt(f *os.File, path string) bool {
	var got, want unix.Stat_t
	if unix.Fstat(int(f.Fd()), &got) != nil || unix.Stat(path, &want) != nil {
		return false
	}
	return got.Dev == want.Dev && got.Ino == want.Ino
}

func flockNB(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// busy is the error for a lock another process holds, naming it. The
// holder writes its PID just after taking the lock, so an empty file is
// read again for a moment.
func busy(name, path string) error {
	var pid int
	var role string
	for i := 0; i < 50; i++ {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if f := strings.Fields(string(b)); len(f) == 2 {
			pid, _ = strconv.Atoi(f[0])
			role = f[1]
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	who := ""
	if pid > 0 {
		who = fmt.Sprintf(" (pid %d)", pid)
	}
	if role == LockDown {
		return errorf(ErrAlreadyRunning, "service %s is being cleaned up by `easlocal down`%s; wait until it has finished", name, who)
	}
	return errorf(ErrAlreadyRunning, "service %s is already starting/running%s; stop it with `easlocal down %s` or rename this one", name, who, name)
}

func (r Registry) lockFile(name string) string {
	return filepath.Join(r.dir(), name+".lock")
}
