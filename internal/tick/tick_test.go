package tick

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// A step's error ends the loop at once and is returned.
func TestEveryStepError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := Every(context.Background(), time.Millisecond, func() error {
		n++
		if n == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 2 {
		t.Errorf("Every = %v after %d steps, want boom after 2", err, n)
	}
}

// The step runs once per period, the first time a period after the
// start, and not again once ctx ends; Every then returns nil.
func TestEveryUntilCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		var at []time.Duration
		done := make(chan error)
		go func() {
			done <- Every(ctx, time.Second, func() error {
				at = append(at, time.Since(start))
				return nil
			})
		}()
		time.Sleep(3500 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Every after cancel = %v, want nil", err)
		}
		want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
		if len(at) != len(want) || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
			t.Errorf("steps at %v, want %v", at, want)
		}
	})
}
