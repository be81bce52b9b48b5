// Package loadgen is easlocal's HTTP/1.1 load generator. Closed loop: N
// clients, each sending one request, waiting for the whole answer, then
// sending the next, over keep-alive connections. Open loop (Rate): requests
// are due at a fixed rate whatever the answers do, each sent by an idle
// worker (more workers are started, up to MaxInFlight, when none is idle),
// and a request's latency counts from when it was due, so a stalled server
// shows as latency and not as fewer requests. It is deliberately lean (a raw
// request head written once, a small response parser, no net/http client)
// so that on a 2-core machine it takes as little CPU as possible from the
// servers it measures, and it is the same generator for every target, so
// only ratios between targets taken in one run are meaningful.
//
// With several Targets every request goes to the next one in round-robin
// order (a shared counter), which is how "direct" client-side balancing
// over instance IPs is measured; TargetsFunc gives a list that changes
// during the run. Every request is recorded (start, latency, outcome) so
// failover runs can count failures in a time window.
//
// easlocal test (package scenario) and the benchmark harness (tools/bench)
// use it.
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe one load run.
type Options struct {
	// Targets are host:port addresses; requests go round robin over them.
	Targets []string
	// TargetsFunc, when set, is asked for the targets before every request
	// (instead of Targets); it must be cheap and safe for concurrent use.
	// An empty answer fails the request with NoTarget.
	TargetsFunc func() []string
	// Method is the request method (default GET).
	Method string
	// Path is the request URI, e.g. "/" or "/api/predict/demo/".
	Path string
	// Host is the Host header (default: the target address).
	Host string
	// Headers are sent with every request, in order, as "Name: value".
	Headers [][2]string
	// Body is sent with every request (with its Content-Length).
	Body []byte
	// Clients is the number of closed-loop clients (default 1); ignored
	// when Rate is set.
	Clients int
	// Rate, when above 0, makes the run open-loop: Rate requests per
	// second are due, sent by at most MaxInFlight requests at once
	// (default 256); a due request waits for a free worker and that wait
	// counts in its latency.
	Rate        float64
	MaxInFlight int
	// Warmup runs before Duration and is not recorded.
	Warmup time.Duration
	// Duration is how long requests are recorded (ignored when Stop is
	// set: the run then lasts until Stop is closed or ctx ends).
	Duration time.Duration
	// Stop, when set, ends the run when closed.
	Stop <-chan struct{}
	// Timeout bounds each request (default 30s); a request past it fails.
	Timeout time.Duration
	// Mark, when set, is called as recording starts (true) and stops
	// (false), e.g. to read a server's CPU time over the same window.
	Mark func(recording bool)
}

// Outcome codes of a Record.
const (
	OK       = 0 // 2xx answer read completely
	Status   = 1 // a non-2xx answer
	ConnErr  = 2 // dial, write or read failed, or the timeout passed
	DialFail = 3 // the connection could not be made at all
	NoTarget = 4 // TargetsFunc had no target to send to
)

// Record is one request.
type Record struct {
	Start   time.Time // when it was sent (closed loop) or due (open loop)
	Latency time.Duration
	Outcome int
	Code    int    // HTTP status when Outcome is OK or Status
	Target  string // the address it went to
}

// Result is what a run measured.
type Result struct {
	Start    time.Time     // when recording began
	Elapsed  time.Duration // recording time
	Records  []Record      // every recorded request, in no particular order
	OK       int
	Failed   int
	RPS      float64 // successful requests per second
	P50, P99 time.Duration
	Max      time.Duration
}

// Percentile returns the q-quantile (0..1) of sorted latencies.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)) + 0.5)
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// Run drives the load and returns when the run is over. It fails only on
// bad options; request failures are counted in the Result.
func Run(ctx context.Context, o Options) (*Result, error) {
	if len(o.Targets) == 0 && o.TargetsFunc == nil {
		return nil, errors.New("loadgen: no target given")
	}
	if o.Path == "" || o.Path[0] != '/' {
		return nil, fmt.Errorf("loadgen: path %q must start with /", o.Path)
	}
	if o.Method == "" {
		o.Method = "GET"
	}
	if strings.ContainsAny(o.Method, " \r\n") {
		return nil, fmt.Errorf("loadgen: bad method %q", o.Method)
	}
	for _, h := range o.Headers {
		if strings.ContainsAny(h[0], " :\r\n") || h[0] == "" || strings.ContainsAny(h[1], "\r\n") {
			return nil, fmt.Errorf("loadgen: bad header %q: %q", h[0], h[1])
		}
	}
	if o.Clients <= 0 {
		o.Clients = 1
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	targets := o.TargetsFunc
	if targets == nil {
		static := slices.Clone(o.Targets)
		targets = func() []string { return static }
	}
	g := &gen{o: o, targets: targets}

	var (
		recording atomic.Bool
		wg        sync.WaitGroup
	)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Rate > 0 {
		wg.Add(1)
		go func() { // the dispatcher; it waits for the workers it started
			defer wg.Done()
			g.openLoop(runCtx, &recording)
		}()
	} else {
		for range o.Clients {
			wg.Add(1)
			go func() { // one goroutine per client; recs is its own
				defer wg.Done()
				c := g.newClient()
				defer c.close()
				var recs []Record
				for runCtx.Err() == nil {
					rec := c.do(time.Now())
					if recording.Load() {
						recs = append(recs, rec)
					}
					if rec.Outcome == NoTarget {
						// Nothing to send to: ask again soon, not in a busy loop.
						select {
						case <-runCtx.Done():
						case <-time.After(noTargetWait):
						}
					}
				}
				g.add(recs)
			}()
		}
	}

	wait := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if o.Warmup > 0 {
		wait(o.Warmup)
	}
	if o.Mark != nil {
		o.Mark(true)
	}
	res := &Result{Start: time.Now()}
	recording.Store(true)
	if o.Stop != nil {
		select {
		case <-o.Stop:
		case <-ctx.Done():
		}
	} else {
		wait(o.Duration)
	}
	recording.Store(false)
	res.Elapsed = time.Since(res.Start)
	if o.Mark != nil {
		o.Mark(false)
	}
	cancel()
	// Closing the connections is left to each client after its request in
	// flight ends (bounded by Timeout).
	wg.Wait()

	all := g.records()
	kept := all[:0]
	lat := make([]time.Duration, 0, len(all))
	for _, r := range all {
		// Requests started after recording stopped are not counted.
		if r.Start.Sub(res.Start) > res.Elapsed || r.Start.Before(res.Start) {
			continue
		}
		kept = append(kept, r)
		if r.Outcome == OK {
			res.OK++
			lat = append(lat, r.Latency)
		} else {
			res.Failed++
		}
	}
	res.Records = kept
	slices.Sort(lat)
	res.RPS = float64(res.OK) / res.Elapsed.Seconds()
	res.P50 = Percentile(lat, 0.50)
	res.P99 = Percentile(lat, 0.99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res, nil
}

// noTargetWait is how long a closed-loop client waits when TargetsFunc
// has no target.
const noTargetWait = 20 * time.Millisecond

// gen is what the clients of one run share.
type gen struct {
	o       Options
	targets func() []string
	next    atomic.Uint64 // round-robin counter
	heads   sync.Map      // target address -> []byte request head and body

	mu  sync.Mutex
	all []Record // guarded by mu
}

func (g *gen) add(recs []Record) {
	g.mu.Lock()
	g.all = append(g.all, recs...)
	g.mu.Unlock()
}

func (g *gen) records() []Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.all
}

// head is the request as written to target: head, headers and body.
func (g *gen) head(target string) []byte {
	if h, ok := g.heads.Load(target); ok {
		return h.([]byte)
	}
	host := g.o.Host
	if host == "" {
		host = target
	}
	var b strings.Builder
	b.WriteString(g.o.Method + " " + g.o.Path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: easlocal-loadgen\r\n")
	for _, h := range g.o.Headers {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if len(g.o.Body) > 0 || g.o.Method == "POST" || g.o.Method == "PUT" || g.o.Method == "PATCH" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(g.o.Body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(g.o.Body)
	h := []byte(b.String())
	g.heads.Store(target, h)
	return h
}

// pick returns the next target round robin, "" when there is none.
func (g *gen) pick() string {
	ts := g.targets()
	if len(ts) == 0 {
		return ""
	}
	return ts[int(g.next.Add(1)%uint64(len(ts)))]
}

func (g *gen) newClient() *client {
	return &client{g: g, conns: map[string]*conn{}}
}

// job is one due request of the open loop.
type job struct {
	due    time.Time
	record bool
}

// openLoop makes a request due every 1/Rate seconds and hands it to an
// idle worker, starting one when none is idle and fewer than MaxInFlight
// run. It returns when ctx ends and every worker has.
func (g *gen) openLoop(ctx context.Context, recording *atomic.Bool) {
	jobs := make(chan job)
	var wg sync.WaitGroup
	defer wg.Wait()
	workers := 0
	worker := func(first job) {
		defer wg.Done()
		c := g.newClient()
		defer c.close()
		var recs []Record
		run := func(j job) {
			rec := c.do(j.due)
			if j.record {
				recs = append(recs, rec)
			}
		}
		run(first)
		for {
			select {
			case j := <-jobs:
				run(j)
			case <-ctx.Done():
				g.add(recs)
				return
			}
		}
	}
	interval := time.Duration(float64(time.Second) / g.o.Rate)
	base := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for k := 0; ; k++ {
		due := base.Add(time.Duration(k) * interval)
		t.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		j := job{due: due, record: recording.Load()}
		select {
		case jobs <- j:
			continue
		default:
		}
		if workers < g.o.MaxInFlight {
			workers++
			wg.Add(1)
			go worker(j)
			continue
		}
		select { // every worker busy: the request waits, its latency grows
		case jobs <- j:
		case <-ctx.Done():
			return
		}
	}
}

// client sends requests one at a time with a keep-alive connection per
// target; it belongs to one goroutine.
type client struct {
	g     *gen
	conns map[string]*conn
}

type conn struct {
	nc net.Conn
	br *bufio.Reader
}

func (c *client) close() {
	for _, cn := range c.conns {
		cn.nc.Close()
	}
}

// do sends one request to the next target and reads the whole answer;
// its latency counts from start.
func (c *client) do(start time.Time) Record {
	rec := Record{Start: start}
	target := c.g.pick()
	if target == "" {
		rec.Outcome = NoTarget
		return rec
	}
	rec.Target = target
	timeout := c.g.o.Timeout
	cn := c.conns[target]
	if cn == nil {
		nc, err := net.DialTimeout("tcp", target, timeout)
		if err != nil {
			rec.Outcome, rec.Latency = DialFail, time.Since(start)
			return rec
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		cn = &conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
		c.conns[target] = cn
	}
	cn.nc.SetDeadline(time.Now().Add(timeout))
	code, keep, err := roundTrip(cn, c.g.head(target), c.g.o.Method == "HEAD")
	rec.Latency = time.Since(start)
	if err != nil {
		cn.nc.Close()
		delete(c.conns, target)
		rec.Outcome = ConnErr
		return rec
	}
	if !keep {
		cn.nc.Close()
		delete(c.conns, target)
	}
	rec.Code = code
	if code < 200 || code > 299 {
		rec.Outcome = Status
	}
	return rec
}

// roundTrip writes head and reads one response, body included. keep says
// whether the connection may be reused.
func roundTrip(cn *conn, head []byte, noBody bool) (code int, keep bool, err error) {
	if _, err := cn.nc.Write(head); err != nil {
		return 0, false, err
	}
	line, err := cn.br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !strings.HasPrefix(string(line[:5]), "HTTP/") {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	keep = true
	length, chunked := -1, false
	for {
		line, err := cn.br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(line) <= 2 {
			break
		}
		k, v, ok := strings.Cut(string(line), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Content-Length"):
			length, err = strconv.Atoi(v)
			if err != nil {
				return 0, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case strings.EqualFold(k, "Transfer-Encoding"):
			chunked = strings.EqualFold(v, "chunked")
		case strings.EqualFold(k, "Connection"):
			if strings.EqualFold(v, "close") {
				keep = false
			}
		}
	}
	switch {
	case noBody || code == 204 || code == 304:
	case chunked:
		if err := readChunked(cn.br); err != nil {
			return 0, false, err
		}
	case length >= 0:
		if _, err := cn.br.Discard(length); err != nil {
			return 0, false, err
		}
	default: // body until close
		io.Copy(io.Discard, cn.br)
		keep = false
	}
	return code, keep, nil
}

func readChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		s := strings.TrimSpace(string(line))
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.ParseInt(s, 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", s)
		}
		if n == 0 {
			for { // trailers up to the empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(line) <= 2 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}
