package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/prober"
)

// Source is where the scrape-time metrics come from. Every function is
// called on each scrape, from the scraping goroutine, so it must be safe
// for concurrent use. A nil function leaves its metrics out.
type Source struct {
	// Status is the service snapshot (the admin controller's Status):
	// readiness, restarts and last probe results per instance.
	Status func() admin.ServiceStatus
	// Endpoints is the number of ready endpoints the gateway routes to.
	Endpoints func() int
	// ProbeStats are the prober's counters and durations
	// (prober.Manager.Stats).
	ProbeStats func() prober.Stats
}

// Metrics owns one Prometheus registry for one service: the scrape-time
// collector over Source, the gateway request metrics fed by Gateway and
// ObserveUpstream, and the Go runtime and process collectors. Safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec // code
	latency  prometheus.Histogram
	upstream *prometheus.CounterVec // instance, code
	retries  prometheus.Counter
	limited  *prometheus.CounterVec // limit

	// Plain totals for the dashboard's chart, so it does not have to
	// gather the registry once a second.
	total, errors atomic.Uint64
	mu            sync.Mutex
	byInstance    map[string]uint64 // guarded by mu
}

// New returns the metrics of a service and registers its collectors.
func New(src Source) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easlocal_gateway_requests_total",
			Help: "Requests the gateway answered, by HTTP status code (499: the client hung up first).",
		}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "easlocal_gateway_request_duration_seconds",
			Help:    "Time from a request's arrival at the gateway until its answer was sent.",
			Buckets: prometheus.DefBuckets,
		}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easlocal_gateway_upstream_requests_total",
			Help: "Requests the gateway sent to an endpoint, by instance and the status code that came back (0: no answer).",
		}, []string{"instance", "code"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "easlocal_gateway_retries_total",
			Help: "Requests the gateway sent to another endpoint because the first could not be reached.",
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easlocal_gateway_limited_total",
			Help: "Requests a limit refused, by limit: instance_rate, service_rate, concurrency (429), queue_full (450), queue_keepalive (408).",
		}, []string{"limit"}),
		byInstance: map[string]uint64{},
	}
	m.reg.MustRegister(m.requests, m.latency, m.upstream, m.retries, m.limited,
		&snapshotCollector{src: src},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry behind Handler (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveUpstream records one request the gateway sent to an endpoint:
// the instance, the status the instance answered (0 when it did not) and
// whether it was a retry on a further endpoint. It is the hook the gateway
// calls per attempt; safe for concurrent use.
func (m *Metrics) ObserveUpstream(instance string, status int, retried bool) {
	m.upstream.WithLabelValues(instance, strconv.Itoa(status)).Inc()
	if retried {
		m.retries.Inc()
	}
	m.mu.Lock()
	m.byInstance[instance]++
	m.mu.Unlock()
}

// CountLimit records one request a gateway limit refused (the kinds are
// proxy's Limit* constants). It is the hook proxy.Options.CountLimit
// takes; safe for concurrent use.
func (m *Metrics) CountLimit(kind string) { m.limited.WithLabelValues(kind).Inc() }

// Totals are cumulative counts since New.
type Totals struct {
	Requests uint64 // answered by the gateway
	Errors   uint64 // of those, answered with 5xx or refused by a limit (429, 450)
	// ByInstance counts requests sent to each instance (empty until the
	// gateway calls ObserveUpstream).
	ByInstance map[string]uint64
}

// Totals returns the current cumulative counts; the caller owns the map.
func (m *Metrics) Totals() Totals {
	t := Totals{Requests: m.total.Load(), Errors: m.errors.Load()}
	m.mu.Lock()
	t.ByInstance = make(map[string]uint64, len(m.byInstance))
	for k, v := range m.byInstance {
		t.ByInstance[k] = v
	}
	m.mu.Unlock()
	return t
}

// statusQueueFull is EAS's 450 (proxy.StatusQueueFull).
const statusQueueFull = 450

// observe records one answered gateway request.
func (m *Metrics) observe(code int, d time.Duration) {
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	m.latency.Observe(d.Seconds())
	m.total.Add(1)
	if code >= 500 || code == http.StatusTooManyRequests || code == statusQueueFull {
		m.errors.Add(1)
	}
}
