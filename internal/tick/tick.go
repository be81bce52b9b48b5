package tick

import (
	"context"
	"time"
)

// Every calls step every d, the first time d after the call, until ctx
// ends (nil) or step returns an error (that error). A tick that comes
// while step runs is dropped, not queued.
func Every(ctx context.Context, d time.Duration, step func() error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := step(); err != nil {
			return err
		}
	}
}
