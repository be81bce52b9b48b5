package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/tick"
	"github.com/easlocal/easlocal/metrics"
)

//go:embed static
var static embed.FS

// Window is how much request history the chart shows.
const Window = 3 * time.Minute

// DefaultLoadRate is the load generator's rate in requests per second.
const DefaultLoadRate = 20

// Options configure a Dashboard.
type Options struct {
	// Controller is the service's admin controller: status, endpoints and
	// events (required). Actions go through the control API's /v1 routes.
	Controller admin.Controller
	// Totals gives cumulative gateway counts for the chart
	// (metrics.Metrics.Totals); nil shows no chart data.
	Totals func() metrics.Totals
	// LoadURL is where the load generator sends its GETs: the service's
	// predict URL on the loopback gateway. "" disables the generator.
	LoadURL string
	// LoadToken is the gateway token sent with the load, if any.
	LoadToken string
	// LoadRate is requests per second (default DefaultLoadRate).
	LoadRate int
	Logger   zerolog.Logger
}

// Dashboard serves the live page of one service. Handlers run on the
// admin server's goroutines; the sampler goroutine (Run) owns prev and
// writes samples under mu.
type Dashboard struct {
	opts Options
	load *loadGen

	mu      sync.Mutex
	samples []sample // oldest first, at most Window/time.Second; guarded by mu
	prev    *metrics.Totals
	prevAt  time.Time
	runCtx  context.Context // Run's context, the load's lifetime; guarded by mu
}

// sample is the request rate over one second.
type sample struct {
	At         int64              `json:"t"` // unix milliseconds
	Total      float64            `json:"total"`
	Errors     float64            `json:"errors"`
	ByInstance map[string]float64 `json:"instances,omitempty"`
}

// New returns a dashboard; call Run to collect rates and Register to serve.
func New(opts Options) *Dashboard {
	if opts.LoadRate <= 0 {
		opts.LoadRate = DefaultLoadRate
	}
	d := &Dashboard{opts: opts}
	if opts.LoadURL != "" {
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: maxInFlight, IdleConnTimeout: 30 * time.Second}}
		d.load = &loadGen{rate: opts.LoadRate, send: httpSender(client, opts.LoadURL, opts.LoadToken)}
	}
	return d
}

// Mux is where Register adds the routes: the control API, *admin.Server.
type Mux interface {
	// Handle serves h behind the control API's token.
	Handle(pattern string, h http.Handler)
	// HandlePage serves h without the token, GET only.
	HandlePage(pattern string, h http.Handler)
}

// Register adds the dashboard's routes to the control API: GET /ui/ the
// page and its script and style (no token: they hold no secret), and
// behind the token GET /ui/stream its server-sent state and POST
// /ui/load?on=1|0 the load generator.
func (d *Dashboard) Register(m Mux) {
	page, _ := fs.Sub(static, "static")
	m.HandlePage("GET /ui/", pageHeaders(http.StripPrefix("/ui/", http.FileServerFS(page))))
	m.Handle("GET /ui/stream", http.HandlerFunc(d.stream))
	m.Handle("POST /ui/load", http.HandlerFunc(d.setLoad))
}

// URL is the page's address on the control API at adminURL. The token
// goes in the fragment, which a browser sends to no server and leaves
// out of Referer; the page reads it and removes it from the address.
func URL(adminURL, token string) string {
	return adminURL + "/ui/#token=" + url.QueryEscape(token)
}

// ContentSecurityPolicy is the page's: its own script, style and
// requests only; no inline script, no framing, no forms, no plugins.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func pageHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// Run samples the gateway's request rates once a second until ctx is
// done, then turns the load generator off. It returns then.
func (d *Dashboard) Run(ctx context.Context) {
	d.mu.Lock()
	d.runCtx = ctx
	d.mu.Unlock()
	if d.load != nil {
		defer d.load.Stop()
	}
	if d.opts.Totals == nil {
		<-ctx.Done()
		return
	}
	step := func() error {
		d.sample(time.Now(), d.opts.Totals())
		return nil
	}
	step()
	tick.Every(ctx, time.Second, step)
}

// sample turns the counts at now into rates since the previous call.
func (d *Dashboard) sample(now time.Time, t metrics.Totals) {
	d.mu.Lock()
	defer d.mu.Unlock()
	prev, prevAt := d.prev, d.prevAt
	d.prev, d.prevAt = &t, now
	if prev == nil {
		return
	}
	secs := now.Sub(prevAt).Seconds()
	if secs <= 0 {
		return
	}
	s := sample{At: now.UnixMilli(),
		Total:  float64(t.Requests-prev.Requests) / secs,
		Errors: float64(t.Errors-prev.Errors) / secs}
	for name, n := range t.ByInstance {
		if s.ByInstance == nil {
			s.ByInstance = map[string]float64{}
		}
		s.ByInstance[name] = float64(n-prev.ByInstance[name]) / secs
	}
	d.samples = append(d.samples, s)
	if max := int(Window / time.Second); len(d.samples) > max {
		d.samples = append(d.samples[:0], d.samples[len(d.samples)-max:]...)
	}
}

// State is what /ui/stream sends: one JSON object per "state" event.
type State struct {
	Status    admin.ServiceStatus `json:"status"`
	Endpoints []admin.Endpoint    `json:"endpoints"`
	Load      LoadState           `json:"load"`
	Rates     []sample            `json:"rates"`
}

// LoadState describes the load generator.
type LoadState struct {
	Available bool   `json:"available"`
	On        bool   `json:"on"`
	Rate      int    `json:"rate"`
	Sent      uint64 `json:"sent"`
	Failed    uint64 `json:"failed"`
}

func (d *Dashboard) state() State {
	st := State{Status: d.opts.Controller.Status(), Endpoints: d.opts.Controller.Endpoints()}
	if st.Status.Instances == nil {
		st.Status.Instances = []admin.InstanceStatus{}
	}
	if st.Endpoints == nil {
		st.Endpoints = []admin.Endpoint{}
	}
	if d.load != nil {
		st.Load = LoadState{Available: true, On: d.load.On(), Rate: d.load.rate, Sent: d.load.sent.Load(), Failed: d.load.failed.Load()}
	}
	d.mu.Lock()
	st.Rates = append([]sample{}, d.samples...)
	d.mu.Unlock()
	return st
}

// stream sends the state at once, then every second and right after each
// service event, until the client leaves or the service stops.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	events := d.opts.Controller.Subscribe(ctx)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		b, err := json.Marshal(d.state())
		if err != nil {
			d.opts.Logger.Error().Err(err).Msg("dashboard state")
			return
		}
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				return // the service is shutting down
			}
		case <-ticker.C:
		}
	}
}

// setLoad is POST /ui/load?on=1 (or 0).
func (d *Dashboard) setLoad(w http.ResponseWriter, r *http.Request) {
	if d.load == nil {
		http.Error(w, `{"error":"this service has no gateway URL for the load generator"}`, http.StatusConflict)
		return
	}
	switch r.URL.Query().Get("on") {
	case "1", "true":
		// Not the request's context: the load outlives this request and
		// stops with Run (the service) or POST ?on=0.
		d.load.Start(d.loadCtx())
	case "0", "false":
		d.load.Stop()
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"use POST /ui/load?on=1 to start the load generator and ?on=0 to stop it"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"on":%t}`, d.load.On())
}

// loadCtx is the context the load generator runs in: Run's, so the load
// ends with the service. Before Run it is a cancelled one.
func (d *Dashboard) loadCtx() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runCtx == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	return d.runCtx
}
