package dashboard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/easlocal/easlocal/internal/tick"
)

// maxInFlight bounds the load generator's open requests: a gateway that
// hangs costs at most this many goroutines and connections.
const maxInFlight = 32

// loadGen sends GETs at a fixed rate while on. Start and Stop may be
// called from any goroutine; the sending goroutine owns nothing but its
// ticker, and every request goroutine ends before Stop returns.
type loadGen struct {
	rate int                             // requests per second
	send func(ctx context.Context) error // one request; nil error = 2xx-4xx answer

	sent, failed atomic.Uint64

	mu     sync.Mutex
	cancel context.CancelFunc // non-nil while on; guarded by mu
	done   chan struct{}      // closed when the running loop ended; guarded by mu
}

// httpSender returns a send function that GETs url on the given client,
// with the gateway token (raw) when set. Answers of 5xx count as failures.
func httpSender(client *http.Client, url, token string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			return fmt.Errorf("gateway answered %s", resp.Status)
		}
		return nil
	}
}

// On reports whether the generator is running.
func (l *loadGen) On() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cancel != nil
}

// Start turns the load on until Stop or until ctx is done. Starting a
// running generator does nothing.
func (l *loadGen) Start(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	l.cancel, l.done = cancel, done
	go func() {
		defer close(done)
		l.run(ctx)
		// Turned off by ctx (the service stopped): show it as off.
		l.mu.Lock()
		if l.done == done {
			l.cancel = nil
		}
		l.mu.Unlock()
	}()
}

// Stop turns the load off and returns when no request is in flight.
// Idempotent.
func (l *loadGen) Stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel = nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// run ticks rate times a second and starts one request per tick, unless
// maxInFlight are already open (then the tick is dropped, not queued, so
// a slow gateway never gets a burst afterwards).
func (l *loadGen) run(ctx context.Context) {
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick.Every(ctx, time.Second/time.Duration(l.rate), func() error {
		select {
		case sem <- struct{}{}:
		default:
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			l.sent.Add(1)
			if err := l.send(rctx); err != nil && ctx.Err() == nil {
				l.failed.Add(1)
			}
		}()
		return nil
	})
}
