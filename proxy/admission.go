package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Admission: the limits EAS applies before a request reaches an instance
// (doc.go, Limits). The units here know nothing of net/http: a front end
// asks limits.admitService for the service-wide limits, then the picked
// instance's instState for its rate and queue, answers the status they
// imply and reports the refusal to limits.refused.

// Limit kinds, as passed to Options.OnLimit and Options.CountLimit and as
// the metrics label.
const (
	LimitInstanceRate   = "instance_rate"   // metadata.rpc.rate_limit: 429
	LimitServiceRate    = "service_rate"    // networking.gateway_policy.rate_limit: 429
	LimitConcurrency    = "concurrency"     // networking.gateway_policy.concurrency_limit: 429
	LimitQueueFull      = "queue_full"      // metadata.rpc.max_queue_size: 450
	LimitQueueKeepalive = "queue_keepalive" // metadata.rpc.keepalive passed in the queue: 408
)

// StatusQueueFull is EAS's answer when an instance's queue is full.
const StatusQueueFull = 450

// Queue defaults, EAS's for processors (rpc.worker_threads and
// rpc.max_queue_size): when a service sets only one of the two, the
// other takes its default.
const (
	WorkerThreadsDefault = 5
	MaxQueueSizeDefault  = 64
)

// limitQuiet is how long a limit must refuse nothing before its next
// refusal counts as a new first trigger (OnLimit is called again).
const limitQuiet = time.Minute

// tokenBucket admits rate events a second on average, at most burst at
// once. Tokens are counted in billionths so refills add up exactly. Safe
// for concurrent use.
type tokenBucket struct {
	mu     sync.Mutex
	rate   int64 // tokens per second
	max    int64 // burst, in billionths of a token
	tokens int64 // in billionths of a token
	last   time.Time
}

const tokenUnit = int64(time.Second) // one token, in billionths

// newTokenBucket returns a full bucket of burst tokens refilled at rate a
// second; nil when rate <= 0 (no limit).
func newTokenBucket(rate, burst int) *tokenBucket {
	if rate <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	max := int64(burst) * tokenUnit
	return &tokenBucket{rate: int64(rate), max: max, tokens: max}
}

// allow takes a token if one is there. A nil bucket always allows.
func (b *tokenBucket) allow(now time.Time) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		if d := now.Sub(b.last); d > 0 {
			if full := time.Duration(b.max / b.rate); d > full {
				d = full // no overflow after a long quiet
			}
			b.tokens = min(b.max, b.tokens+int64(d)*b.rate)
		}
	}
	b.last = now
	if b.tokens < tokenUnit {
		return false
	}
	b.tokens -= tokenUnit
	return true
}

// queue lets at most workers requests in flight to one instance and at
// most size more wait, first come first served, for a slot. Safe for
// concurrent use.
type queue struct {
	mu      sync.Mutex
	workers int
	size    int
	busy    int       // slots held
	waiting []*waiter // FIFO
}

type waiter struct {
	ready   chan struct{} // closed when a slot is handed over
	granted bool          // guarded by queue.mu
}

// newQueue returns nil (no queue) when neither is set, else a queue with
// EAS's defaults for the one left unset.
func newQueue(workers, size int) *queue {
	if workers <= 0 && size <= 0 {
		return nil
	}
	if workers <= 0 {
		workers = WorkerThreadsDefault
	}
	if size <= 0 {
		size = MaxQueueSizeDefault
	}
	return &queue{workers: workers, size: size}
}

// queueResult says how acquire ended.
type queueResult int

const (
	queueGranted  queueResult = iota
	queueFull                 // size requests were already waiting: 450
	queueTimedOut             // timeout passed while waiting: 408
	queueCanceled             // ctx ended while waiting (the client left)
)

// acquire takes a slot, waiting in line for at most timeout (0 = no
// limit) when all are held. A nil queue grants at once. After
// queueGranted the caller must call release.
func (q *queue) acquire(ctx context.Context, timeout time.Duration) queueResult {
	if q == nil {
		return queueGranted
	}
	q.mu.Lock()
	if q.busy < q.workers {
		q.busy++
		q.mu.Unlock()
		return queueGranted
	}
	if len(q.waiting) >= q.size {
		q.mu.Unlock()
		return queueFull
	}
	w := &waiter{ready: make(chan struct{})}
	q.waiting = append(q.waiting, w)
	q.mu.Unlock()

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	res := queueGranted
	select {
	case <-w.ready:
		return queueGranted
	case <-expired:
		res = queueTimedOut
	case <-ctx.Done():
		res = queueCanceled
	}
	q.mu.Lock()
	if w.granted { // handed a slot as we gave up: pass it on
		q.mu.Unlock()
		q.release()
		return res
	}
	for i, o := range q.waiting {
		if o == w {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			break
		}
	}
	q.mu.Unlock()
	return res
}

// release gives a slot back, to the first waiter if there is one.
func (q *queue) release() {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) > 0 {
		w := q.waiting[0]
		q.waiting[0] = nil
		q.waiting = q.waiting[1:]
		w.granted = true
		close(w.ready)
		return
	}
	q.busy--
}

// lengths reports the slots held and the requests waiting (for tests).
func (q *queue) lengths() (busy, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.busy, len(q.waiting)
}

// instState is what the gateway keeps per instance: requests in flight
// (WebSocket tunnels included), the rate bucket and the queue.
type instState struct {
	inflight atomic.Int64
	rate     *tokenBucket
	queue    *queue
}

// limits holds a front door's admission state. All fields are immutable
// after newLimits except the instances map and the trigger times.
type limits struct {
	serviceRate *tokenBucket // gateway_policy.rate_limit; nil = off
	concurrency int64        // gateway_policy.concurrency_limit; 0 = off
	inflight    atomic.Int64 // requests admitted by the service-wide limits

	instRate         int // rpc.rate_limit per instance; 0 = off
	workers, maxWait int // rpc.worker_threads, rpc.max_queue_size

	onLimit    func(kind string)
	countLimit func(kind string)
	now        func() time.Time

	instances sync.Map // instance name → *instState

	mu      sync.Mutex
	lastHit map[string]time.Time // kind → last refusal
}

func newLimits(o Options, front bool) *limits {
	l := &limits{
		instRate:   o.RateLimit,
		workers:    o.WorkerThreads,
		maxWait:    o.MaxQueueSize,
		onLimit:    o.OnLimit,
		countLimit: o.CountLimit,
		now:        time.Now,
		lastHit:    make(map[string]time.Time),
	}
	if front { // the service-wide policy is the gateway's, not the sidecars'
		l.serviceRate = newTokenBucket(o.GatewayRateLimit, o.GatewayRateLimit)
		if o.ConcurrencyLimit > 0 {
			l.concurrency = int64(o.ConcurrencyLimit)
		}
	}
	return l
}

// instance returns the state of an instance, creating it on first use.
// The state of an instance that leaves the set is kept (a handful of
// bytes) so one that comes back keeps its queue.
func (l *limits) instance(name string) *instState {
	if s, ok := l.instances.Load(name); ok {
		return s.(*instState)
	}
	s, _ := l.instances.LoadOrStore(name, &instState{rate: newTokenBucket(l.instRate, l.instRate), queue: newQueue(l.workers, l.maxWait)})
	return s.(*instState)
}

// lookup returns the state of an instance seen before.
func (l *limits) lookup(name string) (*instState, bool) {
	s, ok := l.instances.Load(name)
	if !ok {
		return nil, false
	}
	return s.(*instState), true
}

// admitService applies the service-wide limits: "" when admitted (the
// caller then calls leaveService), else the limit that refused.
func (l *limits) admitService() string {
	if !l.serviceRate.allow(l.now()) {
		return LimitServiceRate
	}
	if n := l.inflight.Add(1); l.concurrency > 0 && n > l.concurrency {
		l.inflight.Add(-1)
		return LimitConcurrency
	}
	return ""
}

func (l *limits) leaveService() { l.inflight.Add(-1) }

// refused records a refusal by a limit: the counter every time, OnLimit
// the first time and again after limitQuiet without one.
func (l *limits) refused(kind string) {
	if l.countLimit != nil {
		l.countLimit(kind)
	}
	now := l.now()
	l.mu.Lock()
	last, seen := l.lastHit[kind]
	l.lastHit[kind] = now
	l.mu.Unlock()
	if l.onLimit != nil && (!seen || now.Sub(last) >= limitQuiet) {
		l.onLimit(kind)
	}
}
