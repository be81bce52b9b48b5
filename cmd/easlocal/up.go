package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog/log"
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/control"
	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
	"github.com/easlocal/easlocal/session"
)

// envDetached marks the background child of `up -d`.
const envDetached = "EASLOCAL_DETACHED_CHILD"

func upFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "instances", Aliases: []string{"n"}, DefaultText: "metadata.instance", Usage: "run `N` instances instead of metadata.instance"},
		&cli.IntFlag{Name: "max-instances", Value: service.DefaultMaxInstances, Usage: "refuse to start more than `N` instances on this machine"},
		&cli.StringFlag{Name: "restart-policy", Value: "always", Usage: "which exited containers to restart: `POLICY` is always, on-failure or never"},
		&cli.DurationFlag{Name: "backoff-initial", Value: 10 * time.Second, Usage: "crash-loop back-off: first wait, a `DURATION` (the kubelet's is 10s)"},
		&cli.DurationFlag{Name: "backoff-max", Value: 300 * time.Second, Usage: "crash-loop back-off: longest wait, a `DURATION` (the kubelet's is 5m)"},
		&cli.DurationFlag{Name: "stop-grace", Usage: "grace period of a terminating container, a `DURATION`, overriding eas.termination_grace_period (default 30s)"},
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9000", Usage: "the gateway's `ADDR`, HOST:PORT (port 0 picks a free one)"},
		adminListenFlag,
		&cli.StringFlag{Name: "token", EnvVars: []string{"EASLOCAL_TOKEN"}, Usage: "require this `TOKEN` on the gateway (raw or EAS-signed)"},
		&cli.BoolFlag{Name: "no-retry", Usage: "do not retry requests that could not be delivered on the next instance"},
		&cli.StringSliceFlag{Name: "mount", Usage: "bind a storage mount_path to a host directory, `PATH=DIR`, e.g. /models=./models"},
		&cli.DurationFlag{Name: "wait-timeout", Value: 3 * time.Minute, Usage: "how long up -d and run wait for every instance to be ready (a `DURATION`)"},
		&cli.StringFlag{Name: "registry-dir", Hidden: true, Usage: "where running services register (tests)"},
	}
	return append(flags, runtimeFlags()...)
}

func init() {
	commands = append(commands,
		&cli.Command{
			Name:      "up",
			Category:  categoryRun,
			Usage:     "run the service: instances, probes, gateway; Ctrl-C tears it down",
			ArgsUsage: "SERVICE.json",
			Description: "Starts metadata.instance instances of the service, probes them as the kubelet\n" +
				"does, restarts failed containers and serves the EAS-style gateway at --listen.\n" +
				"In the foreground it prints container output and events until Ctrl-C, then\n" +
				"removes everything it created. With -d it runs in the background and returns\n" +
				"once every instance is ready; stop it with `easlocal down`.\n\n" +
				"Examples:\n" +
				"   easlocal up examples/demo/service.json\n" +
				"   easlocal up -d -n 5 --backoff-initial 1s --backoff-max 10s examples/demo/service.json\n" +
				"   easlocal up -d --admin-listen 127.0.0.1:9101 service.json   # Prometheus: docs/prometheus.md\n" +
				"   easlocal up --mount /models=./models --token s3cret service.json",
			Flags: append(upFlags(),
				&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background; return once every instance is ready"}),
			Action: upAction,
		},
		&cli.Command{
			Name:      "run",
			Category:  categoryRun,
			Usage:     "bring the service up, run a command against it, tear down, exit with the command's status",
			ArgsUsage: "SERVICE.json -- CMD [ARG...]",
			Description: "For integration tests of a custom image: waits until every instance is ready,\n" +
				"runs CMD with EASLOCAL_URL (http://HOST:PORT/api/predict/NAME), EASLOCAL_GATEWAY\n" +
				"(http://HOST:PORT), EASLOCAL_SERVICE and EASLOCAL_TOKEN set, then tears the\n" +
				"service down and exits with CMD's status.\n\n" +
				"Examples:\n" +
				"   easlocal run --listen 127.0.0.1:0 service.json -- ./integration-test.sh\n" +
				"   easlocal run --logs service.json -- sh -c 'curl -fsS \"$EASLOCAL_URL/\"'",
			Flags: append(upFlags(),
				&cli.BoolFlag{Name: "logs", Usage: "show instance logs and events while CMD runs"}),
			Action: runAction,
		},
	)
}

// upOptionsFrom reads the shared flags of up and run.
func upOptionsFrom(c *cli.Context, file string) (session.Options, error) {
	policy, err := scheduler.ParseRestartPolicy(c.String("restart-policy"))
	if err != nil {
		return session.Options{}, usage.Errorf("--restart-policy: %w", err)
	}
	if c.IsSet("instances") && c.Int("instances") < 0 {
		return session.Options{}, usage.Errorf("--instances %d: give 0 or more", c.Int("instances"))
	}
	if c.Duration("backoff-initial") <= 0 || c.Duration("backoff-max") < c.Duration("backoff-initial") {
		return session.Options{}, usage.Errorf("--backoff-initial must be positive and --backoff-max at least as long")
	}
	var instances *int
	if c.IsSet("instances") {
		n := c.Int("instances")
		instances = &n
	}
	mounts, warnings, err := parseMounts(c.StringSlice("mount"))
	if err != nil {
		return session.Options{}, usage.Wrap(err)
	}
	for _, w := range warnings {
		fmt.Fprintln(c.App.ErrWriter, "warning: --mount:", w)
	}
	rtcfg, err := runtimeConfig(c)
	if err != nil {
		return session.Options{}, usage.Wrap(err)
	}
	adminAddr, err := adminListen(c, c.App.ErrWriter)
	if err != nil {
		return session.Options{}, usage.Wrap(err)
	}
	return session.Options{
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
		AdminListen:    adminAddr,
		Out:            c.App.Writer,
		Err:            c.App.ErrWriter,
		Log:            log.Logger,
	}, nil
}

// parseMounts reads --mount MOUNT_PATH=HOST_DIR[:rw|:ro], and says which
// host directories deserve a second look (runtime.HostMountWarnings).
func parseMounts(specs []string) (map[string]string, []string, error) {
	if len(specs) == 0 {
		return nil, nil, nil
	}
	var warnings []string
	m := make(map[string]string, len(specs))
	for _, s := range specs {
		path, dir, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(path, "/") || dir == "" {
			return nil, nil, fmt.Errorf("--mount %q: write MOUNT_PATH=HOST_DIR, e.g. --mount /models=./models", s)
		}
		if msg := service.MountPathProblem(path); msg != "" {
			return nil, nil, fmt.Errorf("--mount %q: MOUNT_PATH %s", s, msg)
		}
		mode := ""
		if i := strings.LastIndex(dir, ":"); i > 0 && (dir[i+1:] == "rw" || dir[i+1:] == "ro") {
			dir, mode = dir[:i], dir[i:]
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("--mount %q: %w", s, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("--mount %q: %s is not a directory", s, abs)
		}
		warnings = append(warnings, runtime.HostMountWarnings(abs)...)
		m[path] = abs + mode
	}
	return m, warnings, nil
}

func oneFile(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", usage.Errorf("%s needs one SERVICE.json, e.g. `easlocal %s examples/demo/service.json`", c.Command.Name, c.Command.Name)
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
	if addr := os.Getenv(envPprof); addr != "" {
		a, err := startPprof(addr)
		if err != nil {
			return usage.Wrap(err)
		}
		fmt.Fprintf(o.Err, "profiles: http://%s/debug/pprof/ (%s)\n", a, envPprof)
	}
	if os.Getenv(envDetached) != "" {
		f, err := inheritedLock()
		if err != nil {
			return err
		}
		o.LockFile = f
		// The instances' output is in their size-capped logs (easlocal
		// logs); copying it into this process's output file too would
		// grow that file without bound.
		o.HideOutput = true
	}
	ctx, tearingDown, stop := notifyContext(c.Context, c.App.ErrWriter, abandonTeardown)
	defer stop()
	s, err := session.Start(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "service %s: gateway %s (POST %s/...)\n", s.Name(), s.GatewayURL(), s.PredictURL())
	fmt.Fprintf(o.Out, "dashboard: %s\n", s.DashboardURL())
	if c.IsSet("admin-listen") {
		fmt.Fprintf(o.Out, "metrics: %s/metrics (no token needed; see docs/prometheus.md)\n", s.AdminURL())
	}
	fmt.Fprintf(o.Out, "control: easlocal ps|endpoints|events|logs|kill|pause|scale|down %s; Ctrl-C stops\n", s.Name())
	if os.Getenv(envDetached) != "" {
		// The parent reads readiness through the control API; this
		// process only needs to keep running.
		fmt.Fprintf(o.Out, "running detached as pid %d; the instances' output: easlocal logs %s INSTANCE\n", os.Getpid(), s.Name())
	}
	err = s.Wait(ctx, tearingDown)
	if err == nil {
		fmt.Fprintf(o.Err, "service %s stopped; nothing left behind\n", s.Name())
	}
	return err
}

// detach starts `up` again as a background process and waits until
// every instance is ready (see control.Detach). Ctrl-C while waiting stops
// the background service too: it was started for this command, which has
// not handed it over yet.
func detach(c *cli.Context, file string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rtcfg, err := runtimeConfig(c)
	if err != nil {
		return usage.Wrap(err)
	}
	// Checked here too: the background process's warnings go to its log.
	if _, err := adminListen(c, c.App.ErrWriter); err != nil {
		return usage.Wrap(err)
	}
	ctx, _, stop := notifyContext(c.Context, c.App.ErrWriter,
		"stopped waiting; the background easlocal goes on stopping the service, and `easlocal down` finishes what it leaves")
	defer stop()
	// The background copy lives as long as the service, and anyone on the
	// machine can read a command line (/proc/PID/cmdline): the gateway
	// token goes through its environment (owner only) instead.
	env := []string{envDetached + "=1"}
	if c.IsSet("token") {
		env = append(env, "EASLOCAL_TOKEN="+c.String("token"))
	}
	return control.Detach(ctx, control.DetachOptions{
		File: file, Self: self, Args: withoutFlag(os.Args[1:], "token"), Env: env,
		LogDir:      filepath.Join(stateDirOf(rtcfg), "logs"),
		Registry:    admin.Registry{Dir: c.String("registry-dir")},
		WaitTimeout: c.Duration("wait-timeout"),
		Out:         c.App.Writer, Err: c.App.ErrWriter,
	})
}

// withoutFlag returns args without flag name and its value (-name V,
// --name V, -name=V, --name=V), up to a "--".
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		bare := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case bare == a:
		case bare == name:
			i++ // and its value
			continue
		case strings.HasPrefix(bare, name+"="):
			continue
		}
		out = append(out, a)
	}
	return out
}

// runAction is `easlocal run FILE -- CMD...`: the one-liner for
// integration tests of a custom image.
func runAction(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) < 2 {
		return usage.Errorf("run needs SERVICE.json and a command: easlocal run service.json -- ./integration-test.sh")
	}
	file, cmdArgs := args[0], args[1:]
	if cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	if len(cmdArgs) == 0 {
		return usage.Errorf("run needs a command after --")
	}
	o, err := upOptionsFrom(c, file)
	if err != nil {
		return err
	}
	o.ShowLogs = c.Bool("logs")
	ctx, tearingDown, stop := notifyContext(c.Context, c.App.ErrWriter, abandonTeardown)
	defer stop()
	s, err := session.Start(ctx, o)
	if err != nil {
		return err
	}
	code, runErr := s.Exec(ctx, c.Duration("wait-timeout"), cmdArgs, os.Stdin)
	s.Stop()
	if err := s.Wait(context.Background(), tearingDown); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	return exitCode(code)
}

func stateDirOf(cfg runtime.Config) string {
	if cfg.StateDir != "" {
		return cfg.StateDir
	}
	return runtime.DefaultStateDir
}

// inheritedLock is the service's lock the `up -d` that started this
// process took and passed down as descriptor 3 (control.EnvLockFD).
func inheritedLock() (*os.File, error) {
	v := os.Getenv(control.EnvLockFD)
	os.Unsetenv(control.EnvLockFD) // not for what this process starts
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("easlocal was started as the background copy of `up -d` without the service's lock (%s=%q); run `easlocal up -d` instead", control.EnvLockFD, v)
	}
	return os.NewFile(uintptr(fd), "service lock"), nil
}

// abandonTeardown is what up and run say when a second signal ends them
// during the teardown.
const abandonTeardown = "stopped without finishing the teardown; `easlocal down` removes what is left"

// exitAbandoned is the exit status when a second signal ends the process
// during teardown: 128 + SIGINT, as a shell reports an interrupted
// command.
const exitAbandoned = 130

// notifyContext is cancelled by Ctrl-C, SIGTERM or SIGHUP (a closed
// terminal), so each of them tears the service down rather than killing
// easlocal and leaving instances behind. SIGPIPE is ignored: writing to a
// closed stdout (`easlocal up | head`) then fails instead of killing us.
//
// Once the teardown has begun (the first signal, or tearingDown called
// when it began otherwise) the next signal ends the process at once,
// saying so (abandon) on errw: the teardown is abandoned, and what it had
// not removed yet stays as after a crash, registered, so one `easlocal
// down` removes it. stop ends the signal handling.
func notifyContext(parent context.Context, errw io.Writer, abandon string) (ctx context.Context, tearingDown func(), stop func()) {
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	begun := make(chan struct{})
	var beginOnce sync.Once
	tearingDown = func() { beginOnce.Do(func() { close(begun) }) }
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-begun:
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(errw, "easlocal: %s again: %s\n", sig, abandon)
			os.Exit(exitAbandoned)
		case <-done:
		}
	}()
	var stopOnce sync.Once
	stop = func() {
		stopOnce.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
	return ctx, tearingDown, stop
}
