package runtime

import (
	"context"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
)

// Surviving a containerd restart.
//
// Containers do not depend on the daemon: runc's processes run under their
// containerd-shim, which outlives containerd, and their output FIFOs are
// read by this process. What breaks when containerd dies is the gRPC
// connection: every pending task.Wait returns an error status instead of
// an exit status, and the OOM event stream ends. Neither means a
// container exited, so:
//
//   - waitExit sees the error, calls reconnect and waits on the same task
//     again (containerd reloads its tasks from the shims at start; an exit
//     during the outage is reported by the new Wait at once, a task whose
//     shim is gone by NotFound);
//   - watchOOM reconnects and subscribes again;
//   - reconnect, one caller at a time, restarts easlocal's private
//     containerd when that is the daemon in use (as New would) and re-dials
//     the client with back-off until the daemon answers.
//
// The scheduler never sees the outage: Wait's channel yields only real
// exits. Calls made during it (Exec, Kill, Stop) fail with containerd's
// error; an exec probe that cannot run is discarded by the prober, as the
// kubelet does.

// Back-off between reconnect attempts.
const (
	reconnectMinDelay = 50 * time.Millisecond
	reconnectMaxDelay = 2 * time.Second
	// answerTimeout bounds one "does containerd answer?" call.
	answerTimeout = time.Second
	// maxWaitRetries bounds how often waitExit re-waits on a task while
	// containerd answers but the wait keeps failing (an error that is not
	// an outage): then the exit is reported as unknown rather than spun on.
	maxWaitRetries = 5
)

// answers reports whether containerd answers on the client's connection.
func (r *Runtime) answers(ctx context.Context) bool {
	vctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	_, err := r.client.Version(vctx)
	return err == nil
}

// reconnect returns once containerd answers again, or with ctx's error
// (Close). Concurrent callers queue on reconnMu; whoever comes after a
// successful reconnection finds the daemon answering and returns at once.
func (r *Runtime) reconnect(ctx context.Context) error {
	r.reconnMu.Lock()
	defer r.reconnMu.Unlock()
	if r.answers(ctx) {
		return nil
	}
	start := time.Now()
	r.log.Warn().Str("address", r.address).Msg("containerd is not answering (restarted or crashed?); reconnecting, containers keep running")
	delay := reconnectMinDelay
	for attempt := 1; ; attempt++ {
		if r.private {
			// Ours: start it again, as New does. startPrivate returns at
			// once when it answers already (another easlocal restarted it).
			if c, err := startPrivate(ctx, r.cfg, r.log); err == nil {
				c.Close()
			} else if ctx.Err() == nil {
				r.log.Warn().Err(err).Int("attempt", attempt).Msg("cannot restart the private containerd")
			}
		}
		// A fresh connection instead of waiting for gRPC's own back-off.
		if err := r.client.Reconnect(); err == nil && r.answers(ctx) {
			r.reconnects.Add(1)
			r.log.Info().Str("address", r.address).Dur("after", time.Since(start)).Int("attempts", attempt).
				Msg("reconnected to containerd")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, reconnectMaxDelay)
	}
}

// Reconnects counts the times this Runtime lost containerd and got it back.
func (r *Runtime) Reconnects() int64 { return r.reconnects.Load() }

// taskGone reports whether a failed wait means "the task is gone" (its
// shim died with containerd, or it was deleted) rather than "containerd
// went away". task.Wait returns gRPC's error unconverted.
func taskGone(err error) bool {
	return errdefs.IsNotFound(errgrpc.ToNative(err))
}
