package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/loadgen"
	"github.com/easlocal/easlocal/proxy"
)

// clientInjector injects faults through the service's control API: kill
// and pause with the instance actions. Its maps are guarded by mu (the
// runner calls it from one goroutine, teardown from another after it).
type clientInjector struct {
	c *admin.Client

	mu     sync.Mutex
	paused map[string]bool // instances this injector paused and has not unpaused
}

func newClientInjector(c *admin.Client) *clientInjector {
	return &clientInjector{c: c, paused: map[string]bool{}}
}

func (ci *clientInjector) Supports(kind string) bool { return kind == Kill || kind == Pause }

func (ci *clientInjector) Inject(ctx context.Context, f Fault, instance string) (string, error) {
	switch f.Kind {
	case Kill:
		return "", ci.c.Kill(ctx, instance, "SIGKILL")
	case Pause:
		if err := ci.c.Pause(ctx, instance); err != nil {
			return "", err
		}
		ci.mu.Lock()
		ci.paused[instance] = true
		ci.mu.Unlock()
		return "pause:" + instance, nil
	}
	return "", fmt.Errorf("%w: %s", errUnsupported, f.Kind)
}

func (ci *clientInjector) Clear(ctx context.Context, id string) error {
	instance, ok := strings.CutPrefix(id, "pause:")
	if !ok {
		return fmt.Errorf("unknown fault id %q", id)
	}
	if err := ci.c.Unpause(ctx, instance); err != nil {
		return err
	}
	ci.mu.Lock()
	delete(ci.paused, instance)
	ci.mu.Unlock()
	return nil
}

func (ci *clientInjector) ClearAll(ctx context.Context) error {
	ci.mu.Lock()
	var names []string
	for n := range ci.paused {
		names = append(names, n)
	}
	ci.mu.Unlock()
	var errs []error
	for _, n := range names {
		if err := ci.Clear(ctx, "pause:"+n); err != nil {
			errs = append(errs, fmt.Errorf("unpause %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// loadOptions turns the scenario's load into the generator's options for
// a service whose gateway is gatewayURL.
func loadOptions(sc Scenario, name, gatewayURL, token string) (loadgen.Options, error) {
	l := sc.Load
	o := loadgen.Options{Method: l.Method, Headers: l.Headers, Body: []byte(l.Body), Duration: l.Duration,
		Timeout: l.Timeout, Rate: l.Rate, Clients: l.Clients}
	if l.Mode == Direct {
		o.Path = l.Path
		return o, nil
	}
	u, err := url.Parse(gatewayURL)
	if err != nil || u.Host == "" {
		return o, fmt.Errorf("the gateway's address %q cannot be used: %v", gatewayURL, err)
	}
	host := u.Host
	if h, port, err := net.SplitHostPort(host); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		host = net.JoinHostPort("127.0.0.1", port) // listening everywhere: reach it on loopback
	}
	o.Targets = []string{host}
	o.Path = proxy.PredictPrefix + name + l.Path
	if token != "" && !hasHeader(l.Headers, "Authorization") {
		o.Headers = append(append([][2]string(nil), l.Headers...), [2]string{"Authorization", token})
	}
	return o, nil
}

func hasHeader(hs [][2]string, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return true
		}
	}
	return false
}

// directTargets follows the ready endpoints for direct mode, as the
// SDKs' direct mode does: the list is asked for every refresh and
// requests go round robin over the last list seen. It runs until ctx
// ends.
type directTargets struct {
	list atomic.Pointer[[]string]
}

func (d *directTargets) get() []string {
	if p := d.list.Load(); p != nil {
		return *p
	}
	return nil
}

func (d *directTargets) refresh(ctx context.Context, obs Observer) {
	eps, err := obs.Endpoints(ctx)
	if err != nil {
		return // keep the last list, as a client would
	}
	list := make([]string, 0, len(eps))
	for _, ep := range eps {
		list = append(list, net.JoinHostPort(ep.IP, strconv.Itoa(ep.Port)))
	}
	d.list.Store(&list)
}

func (d *directTargets) follow(ctx context.Context, obs Observer, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.refresh(ctx, obs)
	}
}

// realLoader drives o with loadgen; in direct mode the targets follow
// the endpoints, refreshed every directRefresh.
func realLoader(o loadgen.Options, direct bool, obs Observer) Loader {
	return func(ctx context.Context) (*loadgen.Result, error) {
		if direct {
			var dt directTargets
			dt.refresh(ctx, obs)
			fctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				dt.follow(fctx, obs, directRefresh)
			}()
			defer func() { stop(); <-done }()
			o.TargetsFunc = dt.get
		}
		return loadgen.Run(ctx, o)
	}
}

// directRefresh is how often direct mode asks for the endpoints.
const directRefresh = time.Second
