package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/easlocal/easlocal/scheduler"
)

// Exec waits, at most timeout, until every instance is ready, then runs
// argv against the service with EASLOCAL_URL, EASLOCAL_GATEWAY,
// EASLOCAL_SERVICE and EASLOCAL_TOKEN set, its output on Options.Out and
// Err, and returns its exit status (128+N when signal N ended it). When
// ctx ends the command gets SIGTERM.
func (s *Session) Exec(ctx context.Context, timeout time.Duration, argv []string, stdin io.Reader) (int, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	err := s.WaitReady(wctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("interrupted before the service was ready; %s was not run", argv[0])
		}
		var nre *scheduler.NotReadyError
		if errors.As(err, &nre) && len(nre.NotReady) == 0 && nre.Cause != nil {
			return 0, fmt.Errorf("the service could not start, so %s was not run: %w", argv[0], nre.Cause)
		}
		return 0, fmt.Errorf("the service was not ready, so %s was not run: %w", argv[0], err)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(),
		"EASLOCAL_URL="+s.PredictURL(),
		"EASLOCAL_GATEWAY="+s.GatewayURL(),
		"EASLOCAL_SERVICE="+s.Name(),
		"EASLOCAL_TOKEN="+s.opts.Token)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, s.opts.Out, s.opts.Err
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	case ctx.Err() != nil:
		return 0, fmt.Errorf("interrupted while %s was running", argv[0])
	default:
		return 0, fmt.Errorf("cannot run %s: %w", argv[0], err)
	}
}
