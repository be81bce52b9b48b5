package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/internal/tick"
)

// Driver drives one running service through its control API and the
// registry: it waits until the service is ready, stops it and waits until
// it is gone, and follows its logs. The CLI (`up -d`, `down`, `logs`), the
// end-to-end tests and the development tools share it, so each waits the
// same way. The Client's calls are available on it directly.
type Driver struct {
	*Client
	Entry    Entry
	Registry Registry
	// Poll is how often the Wait methods ask again; 0 means 200ms.
	Poll time.Duration
}

// NewDriver returns a Driver for the service e, registered in reg.
func NewDriver(reg Registry, e Entry) *Driver {
	return &Driver{Client: NewClient(e), Entry: e, Registry: reg}
}

// Find returns a Driver for the running service name ("" is the only one).
func Find(reg Registry, name string) (*Driver, error) {
	e, err := reg.Lookup(name)
	if err != nil {
		return nil, err
	}
	return NewDriver(reg, e), nil
}

// WaitRegistered waits until the process pid (a service this process
// started) has registered, and returns a Driver for it. It returns
// ctx's error when ctx ends first.
func WaitRegistered(ctx context.Context, reg Registry, pid int, poll time.Duration) (*Driver, error) {
	d := &Driver{Registry: reg, Poll: poll}
	for {
		list, err := reg.List()
		if err == nil {
			for _, e := range list {
				if e.PID == pid {
					d.Client, d.Entry = NewClient(e), e
					return d, nil
				}
			}
		}
		if err := d.sleep(ctx); err != nil {
			return nil, err
		}
	}
}

func (d *Driver) sleep(ctx context.Context) error {
	poll := d.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	return sleepCtx(ctx, poll)
}

// Ready reports whether every desired instance of st is ready.
func Ready(st ServiceStatus) bool {
	ready := 0
	for _, in := range st.Instances {
		if in.Ready {
			ready++
		}
	}
	return ready >= st.Desired && len(st.Instances) >= st.Desired
}

// NotReadyError is what WaitReady returns when its context ends before
// the service is ready. Its text is the service's own report of which
// instances are not ready and why (ServiceStatus.NotReady).
type NotReadyError struct {
	// Status is the last status seen; its Name is "" when the control API
	// never answered.
	Status ServiceStatus
	Cause  error // the context's error
}

func (e *NotReadyError) Unwrap() error { return e.Cause }

func (e *NotReadyError) Error() string {
	switch {
	case e.Status.Name == "":
		return "the service never answered on its control API"
	case e.Status.NotReady != "":
		return e.Status.NotReady
	}
	ready := 0
	for _, in := range e.Status.Instances {
		if in.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d of %d instances are ready", ready, e.Status.Desired)
}

// WaitReady polls the status until every desired instance is ready and
// returns it. When ctx ends first it returns a *NotReadyError with the
// last status seen. A control API that does not answer is asked again:
// the service may still be starting.
func (d *Driver) WaitReady(ctx context.Context) (ServiceStatus, error) {
	var last ServiceStatus
	for {
		st, err := d.Status(ctx)
		if err == nil {
			last = st
			if Ready(st) {
				return st, nil
			}
		}
		if err := d.sleep(ctx); err != nil {
			return last, &NotReadyError{Status: last, Cause: err}
		}
	}
}

// WaitEndpoints polls until the gateway routes to exactly n endpoints and
// returns them, or returns the last list seen and an error saying what
// was seen when ctx ends first.
func (d *Driver) WaitEndpoints(ctx context.Context, n int) ([]Endpoint, error) {
	var last []Endpoint
	for {
		eps, err := d.Endpoints(ctx)
		if err == nil {
			if len(eps) == n {
				return eps, nil
			}
			last = eps
		}
		if err := d.sleep(ctx); err != nil {
			return last, fmt.Errorf("service %s has %d ready endpoints, want %d: %w", d.Entry.Name, len(last), n, err)
		}
	}
}

// ErrGone is what RequestDown returns when the control API does not
// answer and the entry's process is no longer the easlocal that
// registered it: it crashed, and its PID may now be another program's.
// Nothing was signalled; what it left is for cleanup (`easlocal down`).
var ErrGone = errors.New("the service's easlocal is gone")

// RequestDown asks the service to stop and returns without waiting. When
// the control API does not answer but the process that registered the
// service still runs (same PID, start time and executable), it sends it
// SIGTERM, which `up` handles the same way, and reports that. A process
// that is not that one is never signalled: the answer is ErrGone.
func (d *Driver) RequestDown(ctx context.Context) (signalled bool, err error) {
	err = d.Client.Down(ctx)
	if err == nil {
		return false, nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) || ctx.Err() != nil {
		return false, err
	}
	p := d.Entry.Process()
	if !p.Running() {
		return false, errorf(ErrGone, "service %s is not running: its control API does not answer (%v) and its easlocal (pid %d) has ended", d.Entry.Name, err, p.PID)
	}
	if err := signalProcess(p, syscall.SIGTERM); err != nil {
		return false, fmt.Errorf("the control API of service %s does not answer; sending SIGTERM to its easlocal (pid %d) failed too: %w", d.Entry.Name, p.PID, err)
	}
	return true, nil
}

// signalProcess sends sig to p if p is still the same process. A pidfd
// pins the process between the check and the signal: the PID cannot be
// reused while the pidfd is open.
func signalProcess(p Process, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(p.PID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errorf(ErrGone, "pid %d has ended", p.PID)
		}
		return err
	}
	defer unix.Close(fd)
	if !p.Running() {
		return errorf(ErrGone, "pid %d is no longer the process that registered", p.PID)
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// WaitGone waits until the service's process has unregistered or exited
// (or another process now holds the name). It returns ctx's error when
// ctx ends first.
func (d *Driver) WaitGone(ctx context.Context) error {
	for {
		got, err := d.Registry.Lookup(d.Entry.Name)
		if errors.Is(err, ErrUnknownService) || (err == nil && got.Process() != d.Entry.Process()) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := d.sleep(ctx); err != nil {
			return err
		}
	}
}

// Down is RequestDown, then WaitGone.
func (d *Driver) Down(ctx context.Context) error {
	if _, err := d.RequestDown(ctx); err != nil {
		return err
	}
	return d.WaitGone(ctx)
}

// LogsOptions says which logs Driver.Logs prints and how.
type LogsOptions struct {
	Instance  string // "" is every instance
	Container string // "" is every container
	// Follow keeps printing new output, across restarts, until ctx is done
	// or the service is gone; following every instance, instances added
	// later are followed too.
	Follow bool
	// DiscoverEvery is how often following every instance looks for new
	// ones; 0 means a second.
	DiscoverEvery time.Duration
}

// ErrNoInstances is returned by Logs when the service has no instance to
// show logs of (it was scaled to 0).
var ErrNoInstances = errors.New("no instances to show logs of")

// GoneError is what Logs returns when, following, the service went away.
type GoneError struct {
	Service string
	Err     error
}

func (e *GoneError) Error() string { return fmt.Sprintf("service %s is gone: %v", e.Service, e.Err) }
func (e *GoneError) Unwrap() error { return e.Err }

// logStream is one container log to print.
type logStream struct{ instance, container, prefix string }

// Logs writes the chosen logs to w as whole lines: one stream bare, or
// several each line prefixed with "instance[/container] | ". Without
// Follow the streams are written one after the other (the files have no
// timestamps to merge by). Following, it returns nil when ctx is done
// and a *GoneError when the service went away.
func (d *Driver) Logs(ctx context.Context, o LogsOptions, w io.Writer) error {
	// Following every instance, more may come (scale): prefix from the start.
	discover := o.Follow && o.Instance == ""
	streams, err := d.logStreams(ctx, o.Instance, o.Container, discover)
	if err != nil && !(discover && errors.Is(err, ErrNoInstances)) {
		return err
	}
	out := &lineWriter{w: w}
	if !o.Follow {
		for _, s := range streams {
			if err := d.copyLog(ctx, s, false, out); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	f := &logFollower{ctx: ctx, d: d, out: out, active: map[string]bool{}}
	for _, s := range streams {
		f.start(s)
	}
	if !discover {
		f.wg.Wait()
		return f.err()
	}
	every := o.DiscoverEvery
	if every <= 0 {
		every = time.Second
	}
	err = tick.Every(ctx, every, func() error {
		more, err := d.logStreams(ctx, "", o.Container, true)
		var apiErr *APIError
		switch {
		case err == nil:
			for _, s := range more {
				f.start(s)
			}
		case ctx.Err() != nil || errors.As(err, &apiErr) || errors.Is(err, ErrNoInstances):
			// Cancelled, or an answer (not a vanished service): carry on.
		default:
			return &GoneError{Service: d.Entry.Name, Err: err}
		}
		return nil
	})
	stop()
	f.wg.Wait()
	return err
}

// logFollower runs one goroutine per followed container log; start is
// called from Logs' goroutine only.
type logFollower struct {
	ctx context.Context
	d   *Driver
	out *lineWriter
	wg  sync.WaitGroup

	mu     sync.Mutex
	active map[string]bool // instance/container being followed; guarded by mu
	errs   []error         // guarded by mu
}

// start follows s unless it is already followed. A stream ends when its
// instance is scaled away; if the instance comes back it is followed anew.
func (f *logFollower) start(s logStream) {
	key := s.instance + "/" + s.container
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.active[key] {
		return
	}
	f.active[key] = true
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		err := f.d.copyLog(f.ctx, s, true, f.out)
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.active, key)
		if err != nil {
			f.errs = append(f.errs, err)
		}
	}()
}

func (f *logFollower) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		return nil // cancelled
	}
	return errors.Join(f.errs...)
}

// logStreams picks the logs to show: the instance's (or every instance's)
// containers, or only container, prefixed when there are several or when
// prefix is set.
func (d *Driver) logStreams(ctx context.Context, instance, container string, prefix bool) ([]logStream, error) {
	st, err := d.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []logStream
	multi := false
	names := map[string]bool{} // every container name, for the error below
	for _, in := range st.Instances {
		if instance != "" && in.Name != instance {
			continue
		}
		if container != "" {
			has := instance != "" // a named instance: the API words the error
			for _, ct := range in.Containers {
				names[ct.Name] = true
				has = has || ct.Name == container
			}
			if has {
				out = append(out, logStream{instance: in.Name, container: container})
			}
			continue
		}
		multi = multi || len(in.Containers) > 1
		for _, ct := range in.Containers {
			out = append(out, logStream{instance: in.Name, container: ct.Name})
		}
	}
	if len(out) == 0 && len(names) > 0 {
		return nil, fmt.Errorf("no instance of service %s has a container %q; its containers are %s",
			st.Name, container, strings.Join(slices.Sorted(maps.Keys(names)), ", "))
	}
	if len(out) == 0 {
		if instance == "" {
			return nil, fmt.Errorf("%w: service %s has none now (see `easlocal ps %s`)", ErrNoInstances, st.Name, st.Name)
		}
		// Let the API word the error about the unknown instance.
		out = append(out, logStream{instance: instance, container: container})
	}
	if len(out) > 1 || prefix {
		width := 0
		for i := range out {
			out[i].prefix = out[i].instance
			if multi {
				out[i].prefix += "/" + out[i].container
			}
			width = max(width, len(out[i].prefix))
		}
		for i := range out {
			out[i].prefix = fmt.Sprintf("%-*s | ", width, out[i].prefix)
		}
	}
	return out, nil
}

func (d *Driver) copyLog(ctx context.Context, s logStream, follow bool, out *lineWriter) error {
	body, err := d.Client.Logs(ctx, s.instance, s.container, follow)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer body.Close()
	r := bufio.NewReader(body)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if !strings.HasSuffix(line, "\n") {
				line += "\n" // a last line without newline
			}
			if werr := out.write(s.prefix + line); werr != nil {
				return werr
			}
		}
		if err == io.EOF || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("log of %s/%s: %w", s.instance, s.container, err)
		}
	}
}

// lineWriter writes whole lines from several goroutines without mixing.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := io.WriteString(l.w, s)
	return err
}
