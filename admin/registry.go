package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultRegistryDir is where running services register themselves.
const DefaultRegistryDir = "/run/easlocal/services"

// Entry is one running service as the CLI finds it: the file
// <Dir>/<Name>.json, readable by its owner only (it holds the tokens).
type Entry struct {
	Name       string `json:"name"`
	PID        int    `json:"pid"`
	AdminURL   string `json:"admin_url"`
	GatewayURL string `json:"gateway_url,omitempty"`
	// Token is the gateway token (--token), for `easlocal run` and users.
	Token string `json:"token,omitempty"`
	// AdminToken is the control API's Options.Token.
	AdminToken string    `json:"admin_token,omitempty"`
	Started    time.Time `json:"started"`
}

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

// Register records e, replacing a stale entry of the same name. It fails
// with ErrAlreadyRunning while another live process holds the name. The
// file is written atomically (temporary file, then rename) with mode 0600.
func (r Registry) Register(e Entry) error {
	if err := validName(e.Name); err != nil {
		return err
	}
	if old, err := r.read(e.Name); err == nil && old.PID != e.PID && alive(old.PID) {
		return errorf(ErrAlreadyRunning, "service %s is already running (pid %d, control API %s); stop it with `easlocal down %s` or rename this one",
			e.Name, old.PID, old.AdminURL, e.Name)
	}
	if err := os.MkdirAll(r.dir(), 0o700); err != nil {
		return fmt.Errorf("cannot create the service registry %s: %w", r.dir(), err)
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(r.dir(), "."+e.Name+"-*.tmp")
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

// Unregister removes e's file if it is still e's (same PID), so a process
// never removes the registration of a newer one with the same name.
func (r Registry) Unregister(e Entry) error {
	if err := validName(e.Name); err != nil {
		return err
	}
	old, err := r.read(e.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && old.PID != e.PID {
		return nil
	}
	if err := os.Remove(r.file(e.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot unregister service %s: %w", e.Name, err)
	}
	return nil
}

// List returns the running services sorted by name, removing the entries
// of processes that are gone (and unreadable leftovers).
func (r Registry) List() ([]Entry, error) {
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
		if err != nil || !alive(e.PID) {
			os.Remove(r.file(name)) // stale: its process is gone
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Lookup finds a running service by name; name "" means the only one.
func (r Registry) Lookup(name string) (Entry, error) {
	all, err := r.List()
	if err != nil {
		return Entry{}, err
	}
	if len(all) == 0 {
		if name != "" {
			return Entry{}, errorf(ErrUnknownService, "no easlocal service named %s is running; start one with `easlocal up FILE`", name)
		}
		return Entry{}, ErrNoService
	}
	names := make([]string, len(all))
	for i, e := range all {
		if e.Name == name {
			return e, nil
		}
		names[i] = e.Name
	}
	if name != "" {
		return Entry{}, errorf(ErrUnknownService, "no easlocal service named %s is running; running: %s", name, strings.Join(names, ", "))
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return Entry{}, errorf(ErrAmbiguous, "several easlocal services are running (%s); name one, e.g. `easlocal ps %s`", strings.Join(names, ", "), names[0])
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

// alive reports whether a process with this PID exists (EPERM: it does,
// owned by someone else). A zombie — killed, not yet reaped by its parent —
// is dead: it serves nothing and will never unregister.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !zombie(pid)
}

// zombie reads the process state from /proc/PID/stat ("pid (comm) S ...").
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
