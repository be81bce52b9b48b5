// Package admintest provides a fake admin.Controller for tests of the
// control API, the CLI commands and the dashboard.
package admintest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/testutil"
)

// Fake is an admin.Controller that records the actions it is asked for
// and answers from fields the test sets. Like the real one it refuses an
// instance its status does not list (errdefs.ErrNotFound), without
// recording the call. Safe for concurrent use.
type Fake struct {
	*events.Log // Publish events here

	mu       sync.Mutex
	status   admin.ServiceStatus
	eps      []admin.Endpoint
	logPaths map[string]string // "instance/container" -> path
	calls    testutil.CallLog
	// OnShutdown, if set, runs in Shutdown (e.g. to unregister).
	OnShutdown func()
}

// New returns a Fake with the given status.
func New(st admin.ServiceStatus) *Fake {
	return &Fake{Log: events.NewLog(1000), status: st, logPaths: map[string]string{}}
}

// SetStatus replaces the status snapshot.
func (f *Fake) SetStatus(st admin.ServiceStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = st
}

// SetEndpoints replaces the endpoint list.
func (f *Fake) SetEndpoints(eps []admin.Endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eps = eps
}

// SetLogPath says where a container's log is; it may be changed while a
// follower reads, as a restart does. Path "" forgets the container, as
// when its instance is scaled away.
func (f *Fake) SetLogPath(instance, container, path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if path == "" {
		delete(f.logPaths, instance+"/"+container)
		return
	}
	f.logPaths[instance+"/"+container] = path
}

// Calls returns the actions received so far, e.g. "kill demo-1 SIGTERM",
// "pause demo-0", "unpause demo-0", "scale 3", "shutdown".
func (f *Fake) Calls() []string { return f.calls.Calls() }

func (f *Fake) Status() admin.ServiceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *Fake) Endpoints() []admin.Endpoint {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]admin.Endpoint(nil), f.eps...)
}

// instance refuses a name the status does not list, with the sentence
// the scheduler gives.
func (f *Fake) instance(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, in := range f.status.Instances {
		if in.Name == name {
			return nil
		}
		names = append(names, in.Name)
	}
	msg := fmt.Sprintf("service %s has no instance %q", f.status.Name, name)
	if len(names) > 0 {
		msg += "; its instances are " + strings.Join(names, ", ")
	} else {
		msg += "; it has no instances now"
	}
	return errdefs.ErrNotFound.WithMessage(msg)
}

// Kill records e.g. "kill demo-1 SIGTERM".
func (f *Fake) Kill(instance string, sig syscall.Signal) error {
	if err := f.instance(instance); err != nil {
		return err
	}
	f.calls.Add("kill %s %s", instance, unix.SignalName(sig))
	return nil
}

func (f *Fake) Pause(instance string) error {
	if err := f.instance(instance); err != nil {
		return err
	}
	f.calls.Add("pause %s", instance)
	return nil
}

func (f *Fake) Unpause(instance string) error {
	if err := f.instance(instance); err != nil {
		return err
	}
	f.calls.Add("unpause %s", instance)
	return nil
}

// Scale records the call and sets Desired; n above 100 is refused, to
// test how Controller errors reach the user.
func (f *Fake) Scale(n int) error {
	if n > 100 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot scale to %d instances: at most 100", n))
	}
	f.calls.Add("scale %d", n)
	f.mu.Lock()
	f.status.Desired = n
	f.mu.Unlock()
	return nil
}

func (f *Fake) Shutdown() error {
	f.calls.Add("shutdown")
	if f.OnShutdown != nil {
		f.OnShutdown()
	}
	return nil
}

// LogPath answers from SetLogPath; container "" is the instance's first
// container in the status.
func (f *Fake) LogPath(instance, container string) (string, error) {
	if err := f.instance(instance); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if container == "" {
		for _, in := range f.status.Instances {
			if in.Name == instance && len(in.Containers) > 0 {
				container = in.Containers[0].Name
			}
		}
	}
	p, ok := f.logPaths[instance+"/"+container]
	if !ok {
		var known []string
		for k := range f.logPaths {
			if strings.HasPrefix(k, instance+"/") {
				known = append(known, strings.TrimPrefix(k, instance+"/"))
			}
		}
		sort.Strings(known)
		return "", errdefs.ErrNotFound.WithMessage(fmt.Sprintf("instance %s has no container %q (it has: %s)", instance, container, strings.Join(known, ", ")))
	}
	return p, nil
}

// Subscribe is the Log's; spelled out so Fake's method set is plain.
func (f *Fake) Subscribe(ctx context.Context) <-chan events.Event {
	return f.Log.Subscribe(ctx)
}

var _ admin.Controller = (*Fake)(nil)
