package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultRegistryDir is where running services register themselves.
const DefaultRegistryDir = "/run/easlocal/services"

// Entry is one running service as the CLI finds it: the file
// <Dir>/<Name>.json, readable by its owner only (it holds the tokens).
type Entry struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// PIDStart and Exe identify the process PID for certain (see
	// Process): a PID is reused once its process ends.
	PIDStart   uint64 `json:"pid_start,omitempty"`
	Exe        string `json:"exe,omitempty"`
	AdminURL   string `json:"admin_url"`
	GatewayURL string `json:"gateway_url,omitempty"`
	// Token is the gateway token (--token), for `easlocal run` and users.
	Token string `json:"token,omitempty"`
	// AdminToken is the control API's Options.Token.
	AdminToken string    `json:"admin_token,omitempty"`
	Started    time.Time `json:"started"`
}

// Process is the process that registered e.
func (e Entry) Process() Process { return Process{PID: e.PID, Start: e.PIDStart, Exe: e.Exe} }

// SetProcess records p as the process that serves e.
func (e *Entry) SetProcess(p Process) { e.PID, e.PIDStart, e.Exe = p.PID, p.Start, p.Exe }

// Running reports whether the process that registered e still runs: the
// same PID, start time and executable, and not a zombie. An entry
// without a start time or executable cannot be told from a reused PID
// and never counts as running.
func (e Entry) Running() bool { return e.Process().Running() }

// Registry is the directory of running services. The zero value uses
// DefaultRegistryDir.
type Registry struct {
	Dir string
}

// Registry errors, for errors.Is.
var (
	ErrNoService      = errors.New("no easlocal service is running; start one with `easlocal up FILE`")
	ErrAmbiguous      = errors.New("several easlocal services are running")
	ErrUnknownService = errors.New("no such easlocal service is running")
	ErrAlreadyRunning = errors.New("service already running")
)

// errorf returns an error that errors.Is matches with sentinel but whose
// text is only the sentence, so users read "no easlocal service named x
// is running; ..." rather than "no such easlocal service is running: ...".
func errorf(sentinel error, format string, args ...any) error {
	return &sentinelError{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}

type sentinelError struct {
	sentinel error
	msg      string
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.sentinel }

func (r Registry) dir() string {
	if r.Dir == "" {
		return DefaultRegistryDir
	}
	return r.Dir
}

func (r Registry) file(name string) string {
	return filepath.Join(r.dir(), name+".json")
}

// validName keeps a service name from escaping the directory.
func validName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("service name %q cannot name a registry file; use letters, digits, - and _", name)
	}
	return nil
}

// ensureDir creates the registry directory, or makes an existing one
// private again: entries hold tokens. A shared directory (sticky bit,
// such as /tmp given as --registry-dir) keeps its mode; the entries in
// it are 0600 all the same.
func (r Registry) ensureDir() error {
	if err := os.MkdirAll(r.dir(), 0o700); err != nil {
		return fmt.Errorf("cannot create the service registry %s: %w", r.dir(), err)
	}
	if fi, err := os.Stat(r.dir()); err == nil && fi.Mode()&os.ModeSticky != 0 {
		return nil
	}
	if err := os.Chmod(r.dir(), 0o700); err != nil {
		return fmt.Errorf("cannot make the service registry %s private: %w", r.dir(), err)
	}
	return nil
}

// Register records e, replacing the entry of an earlier run of the same
// name; the caller holds the service's Lock. It fails with
// ErrAlreadyRunning while another running process holds the name. An
// entry without a start time or executable gets those of e.PID's process
// now. The file is written atomically (temporary file, then rename) with
// mode 0600.
func (r Registry) Register(e Entry) error {
	if err := validName(e.Name); err != nil {
		return err
	}
	if e.PIDStart == 0 || e.Exe == "" {
		if p, err := ProcessOf(e.PID); err == nil {
			e.SetProcess(p)
		}
	}
	if old, err := r.read(e.Name); err == nil && old.Process() != e.Process() && old.Running() {
		return errorf(ErrAlreadyRunning, "service %s is already running (pid %d, control API %s); stop it with `easlocal down %s` or rename this one",
			e.Name, old.PID, old.AdminURL, e.Name)
	}
	if err := r.ensureDir(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(r.dir(), "."+e.Name+"-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("cannot write to the service registry %s: %w", r.dir(), err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), r.file(e.Name)); err != nil {
		return fmt.Errorf("cannot register service %s: %w", e.Name, err)
	}
	return nil
}

// Unregister removes e's file if it is still e's (same process), so a
// process never removes the registration of a newer one with the same
// name.
func (r Registry) Unregister(e Entry) error {
	if err := validName(e.Name); err != nil {
		return err
	}
	old, err := r.read(e.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && (old.PID != e.PID || (e.PIDStart != 0 && old.PIDStart != e.PIDStart)) {
		return nil
	}
	return r.Remove(e.Name)
}

// Remove removes the entry of service name, whoever wrote it: `down`
// does, holding the service's Lock, once it has cleaned up after a
// crashed run.
func (r Registry) Remove(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if err := os.Remove(r.file(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot unregister service %s: %w", name, err)
	}
	return nil
}

// Entries returns every entry sorted by name, those of running services
// and those a crashed easlocal left (Entry.Running tells them apart).
// Entries are never removed here: a crashed run's entry is how `down`
// finds what to clean up, and only a holder of the service's Lock may
// remove or replace it. Unreadable files are skipped.
func (r Registry) Entries() ([]Entry, error) {
	des, err := os.ReadDir(r.dir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the service registry %s: %w (easlocal runs services as root: try sudo)", r.dir(), err)
	}
	var out []Entry
	for _, de := range des {
		fn := de.Name()
		if de.IsDir() || strings.HasPrefix(fn, ".") || !strings.HasSuffix(fn, ".json") {
			continue
		}
		name := strings.TrimSuffix(fn, ".json")
		e, err := r.read(name)
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("cannot read %s: %w (easlocal runs services as root: try sudo)", r.file(name), err)
		}
		if err != nil {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// List returns the running services sorted by name.
func (r Registry) List() ([]Entry, error) {
	all, err := r.Entries()
	return slices.DeleteFunc(all, func(e Entry) bool { return !e.Running() }), err
}

// Lookup finds a running service by name; name "" means the only one.
// A service whose easlocal ended without stopping it is not running
// (ErrUnknownService); the error says that `down` cleans up after it.
func (r Registry) Lookup(name string) (Entry, error) {
	all, err := r.Entries()
	if err != nil {
		return Entry{}, err
	}
	var running, crashed []string
	for _, e := range all {
		if e.Running() {
			running = append(running, e.Name)
		} else {
			crashed = append(crashed, e.Name)
		}
		if name != "" && e.Name == name {
			if e.Running() {
				return e, nil
			}
			return Entry{}, errorf(ErrUnknownService, "service %s is not running: its easlocal (pid %d) ended without stopping it; `easlocal down %s` removes what it left behind", name, e.PID, name)
		}
	}
	switch {
	case name != "" && len(running) == 0:
		return Entry{}, errorf(ErrUnknownService, "no easlocal service named %s is running; start one with `easlocal up FILE`", name)
	case name != "":
		return Entry{}, errorf(ErrUnknownService, "no easlocal service named %s is running; running: %s", name, strings.Join(running, ", "))
	case len(running) == 0 && len(crashed) > 0:
		return Entry{}, errorf(ErrNoService, "no easlocal service is running; %s ended without stopping (`easlocal down %s` removes what it left behind); start one with `easlocal up FILE`", strings.Join(crashed, ", "), crashed[0])
	case len(running) == 0:
		return Entry{}, ErrNoService
	case len(running) == 1:
		for _, e := range all {
			if e.Name == running[0] {
				return e, nil
			}
		}
	}
	return Entry{}, errorf(ErrAmbiguous, "several easlocal services are running (%s); name one, e.g. `easlocal ps %s`", strings.Join(running, ", "), running[0])
}

func (r Registry) read(name string) (Entry, error) {
	b, err := os.ReadFile(r.file(name))
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("%s: %w", r.file(name), err)
	}
	if e.Name != name || e.PID <= 0 {
		return Entry{}, fmt.Errorf("%s: not a registry entry of service %s", r.file(name), name)
	}
	return e, nil
}

// Get returns the entry of service name, running or not (fs.ErrNotExist
// when there is none).
func (r Registry) Get(name string) (Entry, error) {
	if err := validName(name); err != nil {
		return Entry{}, err
	}
	return r.read(name)
}
