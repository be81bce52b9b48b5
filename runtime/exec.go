package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// MaxExecOutput caps the output Exec keeps, as the kubelet does for exec
// probes.
const MaxExecOutput = 10 << 10

var execSeq atomic.Uint64

// Exec runs args inside the running container c (same namespaces, user,
// env and cwd as its main process) and returns its exit code and combined
// output (the first MaxExecOutput bytes). When timeout passes first the
// process is killed and TimedOut is set. The containerd exec entry is
// deleted before Exec returns, whatever happened.
func (r *Runtime) Exec(ctx context.Context, c *Container, args []string, timeout time.Duration) (ExecResult, error) {
	st, err := r.state(c)
	if err != nil {
		return ExecResult{}, err
	}
	if len(args) == 0 {
		return ExecResult{}, errors.New("exec: empty command")
	}
	select {
	case <-st.done:
		return ExecResult{}, fmt.Errorf("exec in container %s: it is not running", c.Name)
	default:
	}
	ctx = nsCtx(ctx)
	pspec := st.process
	pspec.Args = args
	pspec.Terminal = false
	buf := &cappedBuffer{max: MaxExecOutput, beforeWrite: r.execOutputHook}
	execID := "exec-" + strconv.FormatUint(execSeq.Add(1), 10)

	proc, err := st.task.Exec(ctx, execID, &pspec, newOutput(st.fifoRoot, buf, buf, false))
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec in container %s: %w", c.Name, err)
	}
	// Deleting the exec entry kills a process still running and closes
	// its output pipes; every return path goes through it exactly once.
	deleted := false
	deleteProc := func() {
		if deleted {
			return
		}
		deleted = true
		dctx, cancel := cleanupCtx(ctx)
		defer cancel()
		if _, err := proc.Delete(dctx, client.WithProcessKill); err != nil && !gone(err) {
			r.log.Warn().Err(err).Str("id", st.id).Str("exec", execID).Msg("delete exec process")
		}
	}
	defer deleteProc()
	exitC, err := proc.Wait(ctx)
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec in container %s: %w", c.Name, err)
	}
	if err := proc.Start(ctx); err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in container %s: %w", args[0], c.Name, startHint(err))
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var res ExecResult
	select {
	case es := <-exitC:
		if err := es.Error(); err != nil {
			// containerd went away: we do not know how the command ended,
			// which is not a failure of the probe.
			return ExecResult{}, fmt.Errorf("exec in container %s: %w", c.Name, err)
		}
		res.ExitCode = int(es.ExitCode())
	case <-timer.C:
		res.TimedOut = true
	case <-ctx.Done():
		res.TimedOut = true
	}
	if res.TimedOut {
		kctx, cancel := cleanupCtx(ctx)
		defer cancel()
		if err := proc.Kill(kctx, syscall.SIGKILL); err != nil && !gone(err) {
			return ExecResult{}, fmt.Errorf("kill timed-out exec in container %s: %w", c.Name, err)
		}
		select {
		case es := <-exitC:
			res.ExitCode = int(es.ExitCode())
		case <-kctx.Done():
		}
	}
	// Read the output only once Delete has drained the pipes.
	deleteProc()
	res.Output = buf.Bytes()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// cappedBuffer keeps the first max bytes written and discards the rest
// while still accepting them, so a chatty process never blocks.
type cappedBuffer struct {
	mu          sync.Mutex
	max         int
	b           []byte
	beforeWrite func() // Runtime.execOutputHook
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.beforeWrite != nil {
		c.beforeWrite()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *cappedBuffer) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.b...)
}
