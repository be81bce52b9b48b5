package proxy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPFault is a fault the gateway injects into requests: a delay before
// forwarding, or an abort (an answer with Status, or a reset connection)
// instead of forwarding.
type HTTPFault struct {
	ID string
	// Instance limits the fault to requests routed to that instance; ""
	// means every request of the service.
	Instance string
	// Delay, when > 0, makes this a delay fault.
	Delay time.Duration
	// Status answers the request with this code (an abort fault).
	Status int
	// Reset closes the connection without an answer (an abort fault).
	Reset bool
	// Percent is the share of matching requests hit, 1-100; 0 means all.
	Percent int
	// First hits only the first N matching requests (after Percent); 0
	// means no limit.
	First int
}

// Check says what is wrong with f, naming the field.
func (f HTTPFault) Check() error {
	if f.ID == "" {
		return errors.New("http fault: id is empty")
	}
	aborts := f.Status != 0 || f.Reset
	switch {
	case f.Delay < 0:
		return fmt.Errorf("http fault %s: delay %s is negative", f.ID, f.Delay)
	case f.Delay > 0 && aborts:
		return fmt.Errorf("http fault %s: give either a delay or an abort (status or reset), not both", f.ID)
	case f.Delay == 0 && !aborts:
		return fmt.Errorf("http fault %s: give a delay, a status to answer or reset", f.ID)
	case f.Status != 0 && f.Reset:
		return fmt.Errorf("http fault %s: give either a status or reset, not both", f.ID)
	case f.Status != 0 && (f.Status < 200 || f.Status > 599):
		return fmt.Errorf("http fault %s: status %d is not an HTTP status from 200 to 599", f.ID, f.Status)
	case f.Percent < 0 || f.Percent > 100:
		return fmt.Errorf("http fault %s: percent %d is not from 1 to 100 (0 means every request)", f.ID, f.Percent)
	case f.First < 0:
		return fmt.Errorf("http fault %s: first %d is negative", f.ID, f.First)
	}
	return nil
}

// Faults is the set of active HTTP faults of a gateway (and its
// sidecars), changed while they serve. The request path reads it through
// one atomic pointer: with no fault active it costs a load and a nil
// check. Writers take mu and publish a new slice.
type Faults struct {
	mu  sync.Mutex
	set atomic.Pointer[[]*httpFault]
}

type httpFault struct {
	HTTPFault
	hits atomic.Int64 // requests hit so far (counts against First)
}

// NewFaults returns an empty set.
func NewFaults() *Faults { return &Faults{} }

// Add activates f; its ID must be new.
func (fs *Faults) Add(f HTTPFault) error {
	if err := f.Check(); err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var cur []*httpFault
	if p := fs.set.Load(); p != nil {
		cur = *p
	}
	for _, h := range cur {
		if h.ID == f.ID {
			return fmt.Errorf("http fault %s is already active", f.ID)
		}
	}
	next := append(slices.Clone(cur), &httpFault{HTTPFault: f})
	fs.set.Store(&next)
	return nil
}

// Remove ends the fault id and reports whether it was active.
func (fs *Faults) Remove(id string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p := fs.set.Load()
	if p == nil {
		return false
	}
	i := slices.IndexFunc(*p, func(h *httpFault) bool { return h.ID == id })
	if i < 0 {
		return false
	}
	next := slices.Delete(slices.Clone(*p), i, i+1)
	if len(next) == 0 {
		fs.set.Store(nil)
	} else {
		fs.set.Store(&next)
	}
	return true
}

// Clear ends every fault.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	fs.set.Store(nil)
	fs.mu.Unlock()
}

// Hits says how many requests fault id has hit so far (0 when unknown).
func (fs *Faults) Hits(id string) int {
	if p := fs.set.Load(); p != nil {
		for _, h := range *p {
			if h.ID == id {
				return int(h.hits.Load())
			}
		}
	}
	return 0
}

// take decides whether h hits this request.
func (h *httpFault) take(instance string) bool {
	if h.Instance != "" && h.Instance != instance {
		return false
	}
	if h.Percent > 0 && h.Percent < 100 && rand.IntN(100) >= h.Percent {
		return false
	}
	n := h.hits.Add(1)
	if h.First > 0 && n > int64(h.First) {
		h.hits.Add(-1)
		return false
	}
	return true
}

// intercept applies the active faults to a request the gateway routes to
// instance: it waits out the delays that hit it, then answers it itself
// when an abort hits it (true: the caller forwards nothing). A nil set
// has no faults.
func (fs *Faults) intercept(w http.ResponseWriter, r *http.Request, instance string) bool {
	if fs == nil {
		return false
	}
	p := fs.set.Load()
	if p == nil {
		return false
	}
	var delay time.Duration
	var abort *httpFault
	for _, h := range *p {
		if h.Delay > 0 {
			if h.take(instance) {
				delay += h.Delay
			}
		} else if abort == nil && h.take(instance) {
			abort = h
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true // the client left: nothing to forward
		}
	}
	if abort == nil {
		return false
	}
	if abort.Reset {
		panic(http.ErrAbortHandler) // net/http closes the connection, no answer
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Easlocal-Fault", abort.ID)
	w.WriteHeader(abort.Status)
	fmt.Fprintf(w, "easlocal: injected fault %s: %d %s\n", abort.ID, abort.Status, http.StatusText(abort.Status))
	return true
}
