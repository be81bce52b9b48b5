package scenario

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/loadgen"
	"github.com/easlocal/easlocal/internal/tick"
	"github.com/easlocal/easlocal/proxy"
)

// apiInjector injects faults through the service's faults API
// (POST /v1/faults). The runner owns the timing: a fault is injected
// without a duration and cleared by id at its end; kill and exit are not
// kept by the service, so they have no id. ClearAll (DELETE /v1/faults)
// reverts whatever is still active. Safe for concurrent use: it keeps no
// state.
type apiInjector struct{ c *admin.Client }

func (apiInjector) Supports(kind string) bool { return slices.Contains(Kinds, kind) }

func (ai apiInjector) Inject(ctx context.Context, f Fault, instance string) (string, error) {
	id, err := ai.c.InjectFault(ctx, f.api(instance))
	if err != nil {
		return "", err
	}
	if instant(f.Kind) {
		return "", nil // over once done: nothing to clear
	}
	return id, nil
}

// api is f as the faults API takes it, on instance ("" for the
// service-wide http-* faults), without a duration: the runner ends it.
func (f Fault) api(instance string) admin.Fault {
	af := admin.Fault{Instance: instance, Kind: f.Kind, Percent: f.Percent, Status: f.Status, Reset: f.Reset,
		First: f.First, Delay: f.Delay, Rate: f.Rate}
	if f.Reset {
		af.Status = 0
	}
	return af
}

func (ai apiInjector) Clear(ctx context.Context, id string) error { return ai.c.ClearFault(ctx, id) }

func (ai apiInjector) ClearAll(ctx context.Context) error { return ai.c.ClearFaults(ctx) }

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
	tick.Every(ctx, every, func() error {
		d.refresh(ctx, obs)
		return nil
	})
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
