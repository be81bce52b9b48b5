package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog/log"
	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/control"
	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scenario"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/serve"
	"github.com/easlocal/easlocal/service"
	"github.com/easlocal/easlocal/session"
)

func upFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "instances", Aliases: []string{"n"}, DefaultText: "metadata.instance", Usage: "run `N` instances instead of metadata.instance"},
		&cli.IntFlag{Name: "max-instances", Value: service.DefaultMaxInstances, Usage: "refuse to start more than `N` instances on this machine"},
		&cli.StringFlag{Name: "restart-policy", Value: "always", Usage: "which exited containers to restart: `POLICY` is always, on-failure or never"},
		&cli.DurationFlag{Name: "backoff-initial", Value: 10 * time.Second, Usage: "crash-loop back-off: first wait, a `DURATION` (the kubelet's is 10s)"},
		&cli.DurationFlag{Name: "backoff-max", Value: 300 * time.Second, Usage: "crash-loop back-off: longest wait, a `DURATION` (the kubelet's is 5m)"},
		&cli.DurationFlag{Name: "stop-grace", Usage: "grace period of a terminating container, a `DURATION`, overriding eas.termination_grace_period (default 30s)"},
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9000", Usage: "the gateway's `ADDR`, HOST:PORT (port 0 picks a free one)"},
		&cli.StringFlag{Name: "admin-listen", Value: "127.0.0.1:0", // loopback, a free port
			Usage: "the control API's `ADDR` (ps, down, the dashboard, GET /metrics); a fixed one such as 127.0.0.1:9101 lets Prometheus scrape /metrics, no token needed (docs/prometheus.md)"},
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

// upOptionsFrom reads the shared flags of up, run and test.
func upOptionsFrom(c *cli.Context, file string) (session.Options, error) {
	policy, err := scheduler.ParseRestartPolicy(c.String("restart-policy"))
	if err != nil {
		return session.Options{}, usage.Errorf("--restart-policy: %w", err)
	}
	var instances *int
	if c.IsSet("instances") {
		n := c.Int("instances")
		instances = &n
	}
	if err := serve.CheckCounts(instances, c.Duration("backoff-initial"), c.Duration("backoff-max")); err != nil {
		return session.Options{}, usage.Wrap(err)
	}
	mounts, warnings, err := serve.ParseMounts(c.StringSlice("mount"))
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
	adminAddr, err := serve.AdminListen(c.String("admin-listen"), c.App.ErrWriter)
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

func upAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return usage.Errorf("%s needs one SERVICE.json, e.g. `easlocal %s examples/demo/service.json`", c.Command.Name, c.Command.Name)
	}
	file := c.Args().First()
	detached := os.Getenv(control.EnvDetached) != ""
	if c.Bool("detach") && !detached {
		return detach(c, file)
	}
	o, err := upOptionsFrom(c, file)
	if err != nil {
		return err
	}
	return serve.Up(c.Context, serve.UpOptions{Session: o, Detached: detached, ShowMetrics: c.IsSet("admin-listen"), Pprof: os.Getenv(serve.EnvPprof)})
}

// detach starts `up` again as a background process and waits until
// every instance is ready (see control.Detach). Ctrl-C while waiting stops
// the background service too: it was started for this command, which has
// not handed it over yet.
func detach(c *cli.Context, file string) error {
	rtcfg, err := runtimeConfig(c)
	if err != nil {
		return usage.Wrap(err)
	}
	// Checked here too: the background process's warnings go to its log.
	if _, err := serve.AdminListen(c.String("admin-listen"), c.App.ErrWriter); err != nil {
		return usage.Wrap(err)
	}
	ctx, _, stop := serve.Interrupts(c.Context, c.App.ErrWriter,
		"stopped waiting; the background easlocal goes on stopping the service, and `easlocal down` finishes what it leaves")
	defer stop()
	o := control.DetachOptions{File: file, Args: os.Args[1:], LogDir: filepath.Join(cmp.Or(rtcfg.StateDir, runtime.DefaultStateDir), "logs"),
		Registry: admin.Registry{Dir: c.String("registry-dir")}, WaitTimeout: c.Duration("wait-timeout"), Out: c.App.Writer, Err: c.App.ErrWriter}
	if c.IsSet("token") {
		token := c.String("token")
		o.Token = &token
	}
	return control.Detach(ctx, o)
}

// runAction is `easlocal run FILE -- CMD...`: the one-liner for
// integration tests of a custom image.
func runAction(c *cli.Context) error {
	file, cmd, err := serve.RunArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	o, err := upOptionsFrom(c, file)
	if err != nil {
		return err
	}
	o.ShowLogs = c.Bool("logs")
	code, err := serve.Run(c.Context, serve.RunOptions{Session: o, WaitTimeout: c.Duration("wait-timeout"), Cmd: cmd, Stdin: os.Stdin})
	if err != nil {
		return err
	}
	return exitCode(code)
}

// exitAbandoned is the exit status when a second signal ends up, run or
// test during the teardown.
const exitAbandoned = serve.ExitAbandoned

func init() {
	commands = append(commands, &cli.Command{
		Name:      "test",
		Category:  categoryRun,
		Usage:     "run failover scenarios: bring the service up, drive load, inject faults, check expectations, tear down",
		ArgsUsage: "SCENARIO.yaml [SCENARIO.yaml...]",
		Description: "Each scenario runs against a fresh service; the flags of up apply to every one,\n" +
			"and what a scenario's instances and up: set wins. --listen defaults to a free\n" +
			"loopback port. Exit status 0 when every expectation held, 1 when one failed or a\n" +
			"scenario could not run, 2 for a bad scenario file (each error names its line and\n" +
			"field). The format is in the README and examples/scenarios/.\n\n" +
			"Examples:\n" +
			"   easlocal test examples/scenarios/kill-under-load.yaml\n" +
			"   easlocal test --junit report.xml --backoff-initial 1s examples/scenarios/*.yaml\n" +
			"   easlocal test --json scenario.yaml > report.json\n" +
			"   easlocal test --check scenarios/*.yaml   # validate only, run nothing",
		Flags: append(upFlags(),
			&cli.StringFlag{Name: "junit", Usage: "also write the report as JUnit XML to `FILE`"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON instead of text"},
			&cli.BoolFlag{Name: "check", Usage: "only validate the files and say what each scenario would do"},
		),
		Action: testAction,
	})
}

func testAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usage.Errorf("test needs a scenario file, e.g. `easlocal test examples/scenarios/kill-under-load.yaml`")
	}
	if c.Bool("check") {
		return serve.Check(c.Args().Slice(), c.App.Writer)
	}
	up, err := upOptionsFrom(c, "")
	if err != nil {
		return err
	}
	if !c.IsSet("listen") {
		up.Listen = "127.0.0.1:0" // CI runs jobs side by side
	}
	passed, err := serve.Test(c.Context, serve.TestOptions{JUnit: c.String("junit"), Scenario: scenario.Options{
		Files: c.Args().Slice(), Up: up, WaitTimeout: c.Duration("wait-timeout"),
		Out: c.App.Writer, Err: c.App.ErrWriter, JSON: c.Bool("json")}})
	if err == nil && !passed {
		return exitCode(1)
	}
	return err
}
