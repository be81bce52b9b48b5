package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog/log"
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

// envDetached marks the background child of `up -d`.
const envDetached = "EASLOCAL_DETACHED_CHILD"

func upFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "instances", Aliases: []string{"n"}, DefaultText: "metadata.instance", Usage: "number of instances"},
		&cli.IntFlag{Name: "max-instances", Value: service.DefaultMaxInstances, Usage: "refuse to start more instances than this on this machine"},
		&cli.StringFlag{Name: "restart-policy", Value: "always", Usage: "always, on-failure or never"},
		&cli.DurationFlag{Name: "backoff-initial", Value: 10 * time.Second, Usage: "crash-loop back-off: first wait (the kubelet's is 10s)"},
		&cli.DurationFlag{Name: "backoff-max", Value: 300 * time.Second, Usage: "crash-loop back-off: longest wait (the kubelet's is 5m)"},
		&cli.DurationFlag{Name: "stop-grace", Value: scheduler.DefaultStopGrace, Usage: "time between SIGTERM and SIGKILL when a container is stopped"},
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9000", Usage: "address of the gateway"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"EASLOCAL_TOKEN"}, Usage: "require this token on the gateway (raw or EAS-signed)"},
		&cli.BoolFlag{Name: "no-retry", Usage: "do not retry requests that could not be delivered on the next instance"},
		&cli.StringSliceFlag{Name: "mount", Usage: "bind a storage mount_path to a host directory: MOUNT_PATH=HOST_DIR[:rw]"},
		&cli.DurationFlag{Name: "wait-timeout", Value: 3 * time.Minute, Usage: "how long `up -d` and `run` wait for every instance to be ready"},
		&cli.StringFlag{Name: "registry-dir", Hidden: true, Usage: "where running services register (tests)"},
	}
	return append(flags, runtimeFlags()...)
}

func init() {
	commands = append(commands,
		&cli.Command{
			Name:      "up",
			Usage:     "run the service: instances, probes, gateway; Ctrl-C tears it down",
			ArgsUsage: "SERVICE.json",
			Flags: append(upFlags(),
				&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background; return once every instance is ready"}),
			Action: upAction,
		},
		&cli.Command{
			Name:      "run",
			Usage:     "bring the service up, run a command against it, tear down, exit with the command's status",
			ArgsUsage: "SERVICE.json -- CMD [ARG...]",
			Flags: append(upFlags(),
				&cli.BoolFlag{Name: "logs", Usage: "show instance logs and events while CMD runs"}),
			Action: runAction,
		},
	)
}

// upOptionsFrom reads the shared flags of up and run.
func upOptionsFrom(c *cli.Context, file string) (upOptions, error) {
	policy, err := scheduler.ParseRestartPolicy(c.String("restart-policy"))
	if err != nil {
		return upOptions{}, usageError{fmt.Errorf("--restart-policy: %w", err)}
	}
	if c.IsSet("instances") && c.Int("instances") < 0 {
		return upOptions{}, usageError{fmt.Errorf("--instances %d: give 0 or more", c.Int("instances"))}
	}
	if c.Duration("backoff-initial") <= 0 || c.Duration("backoff-max") < c.Duration("backoff-initial") {
		return upOptions{}, usageError{errors.New("--backoff-initial must be positive and --backoff-max at least as long")}
	}
	var instances *int
	if c.IsSet("instances") {
		n := c.Int("instances")
		instances = &n
	}
	mounts, err := parseMounts(c.StringSlice("mount"))
	if err != nil {
		return upOptions{}, usageError{err}
	}
	rtcfg, err := runtimeConfig(c)
	if err != nil {
		return upOptions{}, usageError{err}
	}
	return upOptions{
		File:           file,
		Instances:      instances,
		MaxInstances:   c.Int("max-instances"),
		RestartPolicy:  policy,
		BackoffInitial: c.Duration("backoff-initial"),
		BackoffMax:     c.Duration("backoff-max"),
		StopGrace:      c.Duration("stop-grace"),
		Listen:         c.String("listen"),
		Token:          c.String("token"),
		NoRetry:        c.Bool("no-retry"),
		Mounts:         mounts,
		RegistryDir:    c.String("registry-dir"),
		Runtime:        rtcfg,
		Out:            c.App.Writer,
		Err:            c.App.ErrWriter,
		Log:            log.Logger,
	}, nil
}

// parseMounts reads --mount MOUNT_PATH=HOST_DIR[:rw|:ro].
func parseMounts(specs []string) (map[string]string, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(specs))
	for _, s := range specs {
		path, dir, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(path, "/") || dir == "" {
			return nil, fmt.Errorf("--mount %q: write MOUNT_PATH=HOST_DIR, e.g. --mount /models=./models", s)
		}
		if msg := service.MountPathProblem(path); msg != "" {
			return nil, fmt.Errorf("--mount %q: MOUNT_PATH %s", s, msg)
		}
		mode := ""
		if i := strings.LastIndex(dir, ":"); i > 0 && (dir[i+1:] == "rw" || dir[i+1:] == "ro") {
			dir, mode = dir[:i], dir[i:]
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("--mount %q: %w", s, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--mount %q: %s is not a directory", s, abs)
		}
		m[path] = abs + mode
	}
	return m, nil
}

func oneFile(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", usageError{fmt.Errorf("%s needs one SERVICE.json, e.g. `easlocal %s examples/demo/service.json`", c.Command.Name, c.Command.Name)}
	}
	return c.Args().First(), nil
}

func upAction(c *cli.Context) error {
	file, err := oneFile(c)
	if err != nil {
		return err
	}
	if c.Bool("detach") && os.Getenv(envDetached) == "" {
		return detach(c, file)
	}
	o, err := upOptionsFrom(c, file)
	if err != nil {
		return err
	}
	o.ShowLogs = true
	ctx, stop := notifyContext(c.Context)
	defer stop()
	s, err := startSession(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "service %s: gateway %s (POST %s/...)\n", s.svc.Metadata.Name, s.gatewayURL, s.predictURL)
	fmt.Fprintf(o.Out, "dashboard: %s\n", dashboardURL(s))
	fmt.Fprintf(o.Out, "control: easlocal ps|endpoints|events|logs|kill|pause|scale|down %s; Ctrl-C stops\n", s.svc.Metadata.Name)
	if os.Getenv(envDetached) != "" {
		// The parent reads readiness through the control API; this
		// process only needs to keep running.
		fmt.Fprintf(o.Out, "running detached as pid %d\n", os.Getpid())
	}
	err = s.wait(ctx, stop)
	if err == nil {
		fmt.Fprintf(o.Err, "service %s stopped; nothing left behind\n", s.svc.Metadata.Name)
	}
	return err
}

// detach starts `up` again as a background process (own session, output
// to a log file) and waits until every instance is ready, the process
// ends, or --wait-timeout passes (then the service is stopped and the
// report says which instance is stuck and why).
func detach(c *cli.Context, file string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rtcfg, err := runtimeConfig(c)
	if err != nil {
		return usageError{err}
	}
	// Refuse before starting anything, so a second `up -d` of a running
	// service neither starts a process nor touches the first one's output.
	svc, warnings, err := service.Load(file)
	for _, w := range warnings {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", w)
	}
	if err != nil {
		return err
	}
	name := svc.Metadata.Name
	reg := admin.Registry{Dir: c.String("registry-dir")}
	if e, err := reg.Lookup(name); err == nil {
		return fmt.Errorf("service %s is already running (pid %d); stop it with `easlocal down %s` first", name, e.PID, name)
	}
	logDir := filepath.Join(stateDirOf(rtcfg), "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(logDir, "up-"+name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	// The child ignores --detach: envDetached marks it. Arguments are
	// passed as given, so a flag value that happens to be "-d" survives.
	args := os.Args[1:]
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), envDetached+"=1")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start easlocal in the background: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Ctrl-C while waiting stops the background service too: it was
	// started for this command, which has not handed it over yet.
	sigCtx, stopSig := notifyContext(c.Context)
	defer stopSig()
	ctx, cancel := context.WithTimeout(sigCtx, c.Duration("wait-timeout"))
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last admin.ServiceStatus
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("easlocal up stopped before the service was ready (%v); its output:\n%s", err, tail(logPath, 4096))
		case <-ctx.Done():
			report := notReadyReport(last)
			if e, err := findByPID(reg, cmd.Process.Pid); err == nil {
				_ = admin.NewClient(e).Down(context.Background())
			} else {
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
			select {
			case <-exited:
			case <-time.After(2 * time.Minute):
			}
			if sigCtx.Err() != nil {
				return fmt.Errorf("interrupted before the service was ready, so it was stopped; its output: %s", logPath)
			}
			return fmt.Errorf("the service was not ready after %s, so it was stopped:\n%s\nfull output: %s", c.Duration("wait-timeout"), report, logPath)
		case <-tick.C:
		}
		e, err := findByPID(reg, cmd.Process.Pid)
		if err != nil {
			continue
		}
		st, err := admin.NewClient(e).Status(ctx)
		if err != nil {
			continue
		}
		last = st
		if allReady(st) {
			fmt.Fprintf(c.App.Writer, "service %s is ready: %d instance(s), gateway %s%s%s/\n", st.Name, len(st.Instances), e.GatewayURL, "/api/predict/", st.Name)
			fmt.Fprintf(c.App.Writer, "dashboard: %s/ui/?token=%s\n", e.AdminURL, e.AdminToken)
			fmt.Fprintf(c.App.Writer, "running in the background as pid %d (output: %s); stop it with `easlocal down %s`\n", cmd.Process.Pid, logPath, st.Name)
			return nil
		}
	}
}

func findByPID(reg admin.Registry, pid int) (admin.Entry, error) {
	list, err := reg.List()
	if err != nil {
		return admin.Entry{}, err
	}
	for _, e := range list {
		if e.PID == pid {
			return e, nil
		}
	}
	return admin.Entry{}, admin.ErrNoService
}

func allReady(st admin.ServiceStatus) bool {
	ready := 0
	for _, in := range st.Instances {
		if in.Ready {
			ready++
		}
	}
	return ready >= st.Desired && len(st.Instances) >= st.Desired
}

// notReadyReport says, per instance that is not ready, its state, last
// exit and last probe outputs.
func notReadyReport(st admin.ServiceStatus) string {
	if st.Name == "" {
		return "  the service never answered on its control API"
	}
	var b strings.Builder
	for _, in := range st.Instances {
		if in.Ready {
			continue
		}
		fmt.Fprintf(&b, "  instance %s: %s", in.Name, in.State)
		if in.Message != "" {
			fmt.Fprintf(&b, " (%s)", in.Message)
		}
		b.WriteString("\n")
		for _, ct := range in.Containers {
			fmt.Fprintf(&b, "    container %s: %s", ct.Name, ct.State)
			if ct.Reason != "" {
				fmt.Fprintf(&b, " (%s)", ct.Reason)
			}
			fmt.Fprintf(&b, ", restarts %d\n", ct.Restarts)
			if ct.LastExit != nil {
				fmt.Fprintf(&b, "      last exit: %s\n", ct.LastExit.Message)
			}
			for _, k := range []string{"startup", "liveness", "readiness"} {
				if p, ok := ct.Probes[k]; ok {
					fmt.Fprintf(&b, "      %s probe: %s %s\n", k, p.Result, strings.TrimSpace(p.Output))
				}
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// tail returns at most the last n bytes of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// runAction is `easlocal run FILE -- CMD...`: the one-liner for
// integration tests of a custom image.
func runAction(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) < 2 {
		return usageError{errors.New("run needs SERVICE.json and a command: easlocal run service.json -- ./integration-test.sh")}
	}
	file, cmdArgs := args[0], args[1:]
	if cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	if len(cmdArgs) == 0 {
		return usageError{errors.New("run needs a command after --")}
	}
	o, err := upOptionsFrom(c, file)
	if err != nil {
		return err
	}
	o.ShowLogs = c.Bool("logs")
	ctx, stop := notifyContext(c.Context)
	defer stop()
	s, err := startSession(ctx, o)
	if err != nil {
		return err
	}
	code, runErr := runAgainst(ctx, s, c.Duration("wait-timeout"), cmdArgs, o)
	s.Stop()
	if err := s.wait(context.Background(), stop); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	return exitCode(code)
}

// runAgainst waits for the service to be ready, then runs the command
// with EASLOCAL_URL and EASLOCAL_TOKEN set and returns its exit status.
func runAgainst(ctx context.Context, s *session, timeout time.Duration, argv []string, o upOptions) (int, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	err := s.sched.WaitReady(wctx)
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
		"EASLOCAL_URL="+s.predictURL,
		"EASLOCAL_GATEWAY="+s.gatewayURL,
		"EASLOCAL_SERVICE="+s.svc.Metadata.Name,
		"EASLOCAL_TOKEN="+s.opts.Token)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, o.Out, o.Err
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

func stateDirOf(cfg runtime.Config) string {
	if cfg.StateDir != "" {
		return cfg.StateDir
	}
	return runtime.DefaultStateDir
}

// notifyContext is cancelled by Ctrl-C, SIGTERM or SIGHUP (a closed
// terminal), so each of them tears the service down rather than killing
// easlocal and leaving instances behind. SIGPIPE is ignored: writing to a
// closed stdout (`easlocal up | head`) then fails instead of killing us.
// Calling stop restores the default handling, so a second Ctrl-C during
// a stuck teardown ends the process (`down` or the next `up` cleans up).
func notifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	signal.Ignore(syscall.SIGPIPE)
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
}
