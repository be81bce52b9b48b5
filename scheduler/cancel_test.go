package scheduler

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/runtime"
)

// A large scale-up stops as soon as Run is cancelled: no instance starts
// creating its pod afterwards, at most maxCreating creations are under
// way at any time, and every pod that was created is removed.
func TestCancelStopsScaleUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Service: testService(1000)})
		var inFlight, most, calls atomic.Int64
		h.rt.createPodFn = func(ctx context.Context, cfg runtime.PodConfig) error {
			calls.Add(1)
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select { // a namespace and CNI take a while
			case <-time.After(time.Second):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- h.s.Run(ctx) }()
		time.Sleep(2500 * time.Millisecond) // two rounds of creations done, the third under way
		synctest.Wait()
		waiting := 0
		for _, in := range h.s.Status() {
			if in.State == StateCreating && strings.Contains(in.Message, "at most 8 instances are created at once") {
				waiting++
			}
		}
		if waiting < 900 {
			t.Errorf("%d instances say they wait for their turn, want the ~970 not being created", waiting)
		}
		cancel()
		start := time.Now()
		if err := <-errc; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Run took %s to end after cancel", d)
		}
		if got := most.Load(); got > maxCreating {
			t.Errorf("%d pods were being created at once, want at most %d", got, maxCreating)
		}
		// Three rounds of maxCreating began before the cancel; allow one
		// more for creations that took their token just before it.
		if got := calls.Load(); got > 4*maxCreating {
			t.Errorf("CreatePod was called %d times for a scale-up cancelled during its third round, want at most %d", got, 4*maxCreating)
		}
		created, removed := 0, 0
		for _, c := range h.log.Calls() {
			switch {
			case strings.HasPrefix(c, "createpod demo-"):
				created++
			case strings.HasPrefix(c, "removepod demo-"):
				removed++
			}
		}
		if created == 0 || created != removed {
			t.Errorf("created %d pods, removed %d; want every created pod removed", created, removed)
		}
		if st := h.s.Status(); len(st) != 0 {
			t.Errorf("%d instances left after Run ended", len(st))
		}
		h.stopped = true // Run already returned
	})
}
