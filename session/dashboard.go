package session

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/dashboard"
	"github.com/easlocal/easlocal/metrics"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/proxy"
)

// attachDashboard adds GET /metrics and the live dashboard (GET /ui/) to
// the session's control API (ctrl is the controller that API serves),
// sets popts.Observe so the gateway reports each attempt per instance,
// and returns the middleware to wrap the gateway handler with (status
// codes and latency as clients see them).
//
// Call it in Start once s.admin exists (before or after its
// Start), after proxy.NewSidecars(popts) (direct-mode traffic is not
// gateway traffic) and before proxy.New(popts); serve wrap(gw). ctx is the
// session's background context: the load generator and the rate sampler
// end with it, and s.bg waits for them. pm may be nil (no probe run
// metrics).
func attachDashboard(ctx context.Context, s *Session, ctrl admin.Controller, pm *prober.Manager, popts *proxy.Options) (wrap func(http.Handler) http.Handler, err error) {
	if s.admin == nil {
		return nil, errors.New("the dashboard needs the control API: attach it after admin.NewServer")
	}
	if s.dashboard != nil {
		return nil, errors.New("the dashboard is already attached to this service")
	}
	src := metrics.Source{Status: ctrl.Status, Endpoints: func() int { return s.set.Snapshot().Len() }}
	if pm != nil {
		src.ProbeStats = pm.Stats
	}
	m := metrics.New(src)
	d := dashboard.New(dashboard.Options{Controller: ctrl, Totals: m.Totals, LoadURL: loopbackURL(s.predictURL), LoadToken: s.opts.Token,
		Logger: s.opts.Log.With().Str("component", "dashboard").Logger()})
	s.dashboard = d
	if popts != nil {
		popts.Observe = m.ObserveUpstream
		popts.CountLimit = m.CountLimit
	}
	// Without the token, so Prometheus can scrape it (admin.HandlePublic).
	s.admin.HandlePage("GET /metrics", m.Handler())
	d.Register(s.admin)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		d.Run(ctx)
	}()
	return m.Gateway, nil
}

// DashboardURL is what `up` prints: the page, with the control API's
// token in the fragment (dashboard.URL).
func (s *Session) DashboardURL() string {
	return dashboard.URL(s.admin.URL(), s.entry.AdminToken)
}

// loopbackURL points a gateway URL that listens on every address
// (0.0.0.0, ::) at 127.0.0.1, so the load generator stays on loopback.
func loopbackURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return raw
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("127.0.0.1", port)
	}
	return u.String()
}
