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

	// Resolved children of requests and upstream, so that a request
	// costs atomic adds only: no label hashing, no code formatting.
	requestCodes codeCounters
	instances    sync.Map // instance name → *instanceStats

	// Plain totals for the dashboard's chart, so it does not have to
	// gather the registry once a second.
	total, errors atomic.Uint64
}

// instanceStats is what ObserveUpstream keeps per instance.
type instanceStats struct {
	codes codeCounters
	sent  atomic.Uint64 // Totals.ByInstance
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
	}
	m.requestCodes = codeCounters{vec: m.requests}
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
	st, ok := m.instances.Load(instance)
	if !ok {
		st, _ = m.instances.LoadOrStore(instance, &instanceStats{
			codes: codeCounters{vec: m.upstream, prefix: []string{instance}},
		})
	}
	is := st.(*instanceStats)
	is.codes.get(status).Inc()
	is.sent.Add(1)
	if retried {
		m.retries.Inc()
	}
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
	t := Totals{Requests: m.total.Load(), Errors: m.errors.Load(), ByInstance: map[string]uint64{}}
	m.instances.Range(func(k, v any) bool {
		t.ByInstance[k.(string)] = v.(*instanceStats).sent.Load()
		return true
	})
	return t
}

// statusQueueFull is EAS's 450 (proxy.StatusQueueFull).
const statusQueueFull = 450

// observe records one answered gateway request.
func (m *Metrics) observe(code int, d time.Duration) {
	m.requestCodes.get(code).Inc()
	m.latency.Observe(d.Seconds())
	m.total.Add(1)
	if code >= 500 || code == http.StatusTooManyRequests || code == statusQueueFull {
		m.errors.Add(1)
	}
}

// codeCounters are the children of a counter vector whose last label is
// an HTTP status code, resolved once per code and then read with one
// atomic load. Codes outside 0–599 are looked up each time.
type codeCounters struct {
	vec    *prometheus.CounterVec
	prefix []string // label values before the code; never changed
	byCode [600]atomic.Pointer[counterRef]
}

type counterRef struct{ prometheus.Counter }

func (c *codeCounters) get(code int) prometheus.Counter {
	if code < 0 || code >= len(c.byCode) {
		return c.vec.WithLabelValues(append(c.prefix[:len(c.prefix):len(c.prefix)], strconv.Itoa(code))...)
	}
	if ref := c.byCode[code].Load(); ref != nil {
		return ref.Counter
	}
	// Two first requests with one code may both resolve it: the vector
	// returns the same child to both.
	ref := &counterRef{c.vec.WithLabelValues(append(c.prefix[:len(c.prefix):len(c.prefix)], strconv.Itoa(code))...)}
	c.byCode[code].Store(ref)
	return ref.Counter
}
