package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog/log"
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/control"
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
		&cli.DurationFlag{Name: "stop-grace", Value: scheduler.DefaultStopGrace, Usage: "time between SIGTERM and SIGKILL when a container is stopped, a `DURATION`"},
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
		return session.Options{}, usageError{fmt.Errorf("--restart-policy: %w", err)}
	}
	if c.IsSet("instances") && c.Int("instances") < 0 {
		return session.Options{}, usageError{fmt.Errorf("--instances %d: give 0 or more", c.Int("instances"))}
	}
	if c.Duration("backoff-initial") <= 0 || c.Duration("backoff-max") < c.Duration("backoff-initial") {
		return session.Options{}, usageError{errors.New("--backoff-initial must be positive and --backoff-max at least as long")}
	}
	var instances *int
	if c.IsSet("instances") {
		n := c.Int("instances")
		instances = &n
	}
	mounts, warnings, err := parseMounts(c.StringSlice("mount"))
	if err != nil {
		return session.Options{}, usageError{err}
	}
	for _, w := range warnings {
		fmt.Fprintln(c.App.ErrWriter, "warning: --mount:", w)
	}
	rtcfg, err := runtimeConfig(c)
	if err != nil {
		return session.Options{}, usageError{err}
	}
	adminAddr, err := adminListen(c, c.App.ErrWriter)
	if err != nil {
		return session.Options{}, usageError{err}
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
		fmt.Fprintf(o.Out, "running detached as pid %d\n", os.Getpid())
	}
	err = s.Wait(ctx, stop)
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
		return usageError{err}
	}
	// Checked here too: the background process's warnings go to its log.
	if _, err := adminListen(c, c.App.ErrWriter); err != nil {
		return usageError{err}
	}
	ctx, stop := notifyContext(c.Context)
	defer stop()
	return control.Detach(ctx, control.DetachOptions{
		File: file, Self: self, Args: os.Args[1:], Env: []string{envDetached + "=1"},
		LogDir:      filepath.Join(stateDirOf(rtcfg), "logs"),
		Registry:    admin.Registry{Dir: c.String("registry-dir")},
		WaitTimeout: c.Duration("wait-timeout"),
		Out:         c.App.Writer, Err: c.App.ErrWriter,
	})
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
	s, err := session.Start(ctx, o)
	if err != nil {
		return err
	}
	code, runErr := s.Exec(ctx, c.Duration("wait-timeout"), cmdArgs, os.Stdin)
	s.Stop()
	if err := s.Wait(context.Background(), stop); err != nil && runErr == nil {
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
