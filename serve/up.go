package serve

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/easlocal/easlocal/control"
	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/session"
)

// UpOptions is `easlocal up` in this process.
type UpOptions struct {
	Session session.Options
	// Detached: this process is the background copy `up -d` started. It
	// holds the service's lock that copy handed down, and keeps the
	// instances' output out of its own output file: that is in their
	// size-capped logs (easlocal logs), and copying it here too would grow
	// the file without bound.
	Detached bool
	// ShowMetrics prints the /metrics address (--admin-listen was given).
	ShowMetrics bool
	// Pprof, if set, is where Go's profiles are served (EnvPprof).
	Pprof string
}

// Up runs the service, printing its addresses, container output and
// events, until ctx is done or a signal (Interrupts) tears it down.
func Up(ctx context.Context, o UpOptions) error {
	so := o.Session
	so.ShowLogs = true
	if o.Pprof != "" {
		a, err := startPprof(o.Pprof)
		if err != nil {
			return usage.Wrap(err)
		}
		fmt.Fprintf(so.Err, "profiles: http://%s/debug/pprof/ (%s)\n", a, EnvPprof)
	}
	if o.Detached {
		f, err := control.InheritedLock()
		if err != nil {
			return err
		}
		so.LockFile = f
		so.HideOutput = true
	}
	ctx, tearingDown, stop := Interrupts(ctx, so.Err, Abandon)
	defer stop()
	s, err := session.Start(ctx, so)
	if err != nil {
		return err
	}
	fmt.Fprintf(so.Out, "service %s: gateway %s (POST %s/...)\n", s.Name(), s.GatewayURL(), s.PredictURL())
	fmt.Fprintf(so.Out, "dashboard: %s\n", s.DashboardURL())
	if o.ShowMetrics {
		fmt.Fprintf(so.Out, "metrics: %s/metrics (no token needed; see docs/prometheus.md)\n", s.AdminURL())
	}
	fmt.Fprintf(so.Out, "control: easlocal ps|endpoints|events|logs|kill|pause|scale|down %s; Ctrl-C stops\n", s.Name())
	if o.Detached {
		// The parent reads readiness through the control API; this
		// process only needs to keep running.
		fmt.Fprintf(so.Out, "running detached as pid %d; the instances' output: easlocal logs %s INSTANCE\n", os.Getpid(), s.Name())
	}
	err = s.Wait(ctx, tearingDown)
	if err == nil {
		fmt.Fprintf(so.Err, "service %s stopped; nothing left behind\n", s.Name())
	}
	return err
}

// RunArgs reads the arguments of `easlocal run`: SERVICE.json, an
// optional "--", and the command.
func RunArgs(args []string) (file string, cmd []string, err error) {
	if len(args) < 2 {
		return "", nil, usage.Errorf("run needs SERVICE.json and a command: easlocal run service.json -- ./integration-test.sh")
	}
	file, cmd = args[0], args[1:]
	if cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		return "", nil, usage.Errorf("run needs a command after --")
	}
	return file, cmd, nil
}

// RunOptions is `easlocal run`.
type RunOptions struct {
	Session     session.Options // ShowLogs: the instances' output and events while Cmd runs
	WaitTimeout time.Duration   // for every instance to be ready
	Cmd         []string
	Stdin       io.Reader
}

// Run brings the service up, runs o.Cmd against it once every instance
// is ready (session.Exec), tears the service down and returns Cmd's exit
// status.
func Run(ctx context.Context, o RunOptions) (int, error) {
	ctx, tearingDown, stop := Interrupts(ctx, o.Session.Err, Abandon)
	defer stop()
	s, err := session.Start(ctx, o.Session)
	if err != nil {
		return 0, err
	}
	code, runErr := s.Exec(ctx, o.WaitTimeout, o.Cmd, o.Stdin)
	s.Stop()
	if err := s.Wait(context.Background(), tearingDown); err != nil && runErr == nil {
		runErr = err
	}
	return code, runErr
}
