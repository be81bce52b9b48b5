// Package loadgen is easlocal's closed-loop HTTP/1.1 load generator: N
// clients, each sending one GET, waiting for the whole answer, then sending
// the next, over keep-alive connections. It is deliberately lean (a raw
// request head written once, a small response parser, no net/http client)
// so that on a 2-core machine it takes as little CPU as possible from the
// servers it measures, and it is the same generator for every target, so
// only ratios between targets taken in one run are meaningful.
//
// With several Targets every request goes to the next one in round-robin
// order (a shared counter), which is how "direct" client-side balancing
// over instance IPs is measured. Every request is recorded (start, latency,
// outcome) so failover runs can count failures in a time window.
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
	// Path is the request URI, e.g. "/" or "/api/predict/demo/".
	Path string
	// Host is the Host header (default: the target address).
	Host string
	// Clients is the number of closed-loop clients (default 1).
	Clients int
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
)

// Record is one request.
type Record struct {
	Start   time.Time
	Latency time.Duration
	Outcome int
	Code    int // HTTP status when Outcome is OK or Status
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
	if len(o.Targets) == 0 {
		return nil, errors.New("loadgen: no target given")
	}
	if o.Path == "" || o.Path[0] != '/' {
		return nil, fmt.Errorf("loadgen: path %q must start with /", o.Path)
	}
	if o.Clients <= 0 {
		o.Clients = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	heads := make([][]byte, len(o.Targets))
	for i, t := range o.Targets {
		host := o.Host
		if host == "" {
			host = t
		}
		heads[i] = []byte("GET " + o.Path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: easlocal-bench\r\n\r\n")
	}

	var (
		recording atomic.Bool
		next      atomic.Uint64
		wg        sync.WaitGroup
		mu        sync.Mutex
		all       []Record
	)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range o.Clients {
		wg.Add(1)
		go func() { // one goroutine per client; recs is its own
			defer wg.Done()
			c := &client{heads: heads, targets: o.Targets, timeout: o.Timeout, conns: make([]*conn, len(o.Targets))}
			defer c.close()
			var recs []Record
			for runCtx.Err() == nil {
				i := int(next.Add(1) % uint64(len(o.Targets)))
				rec := c.do(i)
				if recording.Load() {
					recs = append(recs, rec)
				}
			}
			mu.Lock()
			all = append(all, recs...)
			mu.Unlock()
		}()
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

	res.Records = all
	lat := make([]time.Duration, 0, len(all))
	for _, r := range all {
		// Requests started after recording stopped are not counted.
		if r.Start.Sub(res.Start) > res.Elapsed {
			continue
		}
		if r.Outcome == OK {
			res.OK++
			lat = append(lat, r.Latency)
		} else {
			res.Failed++
		}
	}
	slices.Sort(lat)
	res.RPS = float64(res.OK) / res.Elapsed.Seconds()
	res.P50 = Percentile(lat, 0.50)
	res.P99 = Percentile(lat, 0.99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res, nil
}

// client is one closed-loop client with a keep-alive connection per target.
type client struct {
	heads   [][]byte
	targets []string
	timeout time.Duration
	conns   []*conn
}

type conn struct {
	nc net.Conn
	br *bufio.Reader
}

func (c *client) close() {
	for _, cn := range c.conns {
		if cn != nil {
			cn.nc.Close()
		}
	}
}

// do sends one request to target i and reads the whole answer.
func (c *client) do(i int) Record {
	start := time.Now()
	rec := Record{Start: start}
	cn := c.conns[i]
	if cn == nil {
		nc, err := net.DialTimeout("tcp", c.targets[i], c.timeout)
		if err != nil {
			rec.Outcome, rec.Latency = DialFail, time.Since(start)
			return rec
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		cn = &conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
		c.conns[i] = cn
	}
	cn.nc.SetDeadline(start.Add(c.timeout))
	code, keep, err := roundTrip(cn, c.heads[i])
	rec.Latency = time.Since(start)
	if err != nil {
		cn.nc.Close()
		c.conns[i] = nil
		rec.Outcome = ConnErr
		return rec
	}
	if !keep {
		cn.nc.Close()
		c.conns[i] = nil
	}
	rec.Code = code
	if code < 200 || code > 299 {
		rec.Outcome = Status
	}
	return rec
}

// roundTrip writes head and reads one response, body included. keep says
// whether the connection may be reused.
func roundTrip(cn *conn, head []byte) (code int, keep bool, err error) {
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
	case code == 204 || code == 304:
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
