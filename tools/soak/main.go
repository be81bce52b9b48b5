package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// config is one soak run's settings; the defaults are the brief's.
type config struct {
	bin       string
	duration  time.Duration
	instances int
	clients   int
	pause     time.Duration // between two requests of one client
	flapEvery time.Duration
	flapFor   time.Duration
	killEvery time.Duration
	liveEvery time.Duration
	sample    time.Duration
	settle    time.Duration // longest wait for the service to settle after the faults

	maxRSSGrowth       float64 // fraction, e.g. 0.10
	maxGoroutineGrowth float64 // absolute
	keep               bool    // leave the service.json directory behind
}

func main() {
	var c config
	flag.StringVar(&c.bin, "easlocal", "../bin/easlocal", "the easlocal binary to soak (the default is the one `make build` writes, seen from tools/)")
	flag.DurationVar(&c.duration, "duration", 20*time.Minute, "how long faults are injected and samples taken")
	flag.IntVar(&c.instances, "instances", 5, "instances of the soak service")
	flag.IntVar(&c.clients, "clients", 4, "closed-loop clients through the gateway")
	flag.DurationVar(&c.pause, "pause", 20*time.Millisecond, "pause between two requests of one client")
	flag.DurationVar(&c.flapEvery, "flap-every", 20*time.Second, "make one instance unready this often")
	flag.DurationVar(&c.flapFor, "flap-for", 5*time.Second, "for this long")
	flag.DurationVar(&c.killEvery, "kill-every", 60*time.Second, "kill one instance (SIGKILL) this often")
	flag.DurationVar(&c.liveEvery, "live-every", 90*time.Second, "fail one instance's liveness probe this often")
	flag.DurationVar(&c.sample, "sample", 10*time.Second, "sampling period")
	flag.DurationVar(&c.settle, "settle", 90*time.Second, "longest wait for every instance to be back after the last fault")
	flag.Float64Var(&c.maxRSSGrowth, "max-rss-growth", 0.10, "allowed RSS growth, last quarter against second quarter (fraction)")
	flag.Float64Var(&c.maxGoroutineGrowth, "max-goroutine-growth", 20, "allowed goroutine growth, last quarter against second quarter")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory with service.json")
	flag.Parse()
	if flag.NArg() != 0 || c.duration <= 0 || c.instances < 2 || c.clients < 1 || c.sample <= 0 {
		fmt.Fprintln(os.Stderr, "soak: usage: go run ./soak [-easlocal ../bin/easlocal] [-duration 20m] (duration > 0, at least 2 instances, 1 client)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, c))
}

// run is the whole soak; it returns the exit status.
func run(ctx context.Context, c config) int {
	if os.Geteuid() != 0 {
		logf("soak must run as root (easlocal needs it): run it with sudo")
		return 2
	}
	bin, err := filepath.Abs(c.bin)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		logf("cannot use the easlocal binary %s (%v): run `make build` first or pass -easlocal", c.bin, err)
		return 2
	}
	c.bin = bin
	name := fmt.Sprintf("soak_%d", os.Getpid())
	tmp, err := os.MkdirTemp("", "easlocal-soak-")
	if err != nil {
		logf("cannot create a temporary directory: %v", err)
		return 2
	}
	if !c.keep {
		defer os.RemoveAll(tmp)
	}
	file, err := writeService(tmp, name, c.instances)
	if err != nil {
		logf("cannot write service.json: %v", err)
		return 2
	}
	logf("machine: %s", machine())
	logf("soak %s: %d instances, %d clients, faults for %s (flap every %s for %s, kill every %s, liveness every %s), samples every %s",
		name, c.instances, c.clients, c.duration, c.flapEvery, c.flapFor, c.killEvery, c.liveEvery, c.sample)

	e := &easlocal{bin: c.bin, name: name}
	// Whatever happens from here, the service goes down; down() is a
	// no-op once the final checks have taken it down themselves.
	defer e.down()
	logf("easlocal up -d %s", file)
	if err := e.up(ctx, file); err != nil {
		logf("%v", err)
		if ctx.Err() != nil {
			logf("interrupted: taking the service down")
			return 1
		}
		return 2
	}
	r, err := newRun(ctx, c, e)
	if err != nil {
		logf("%v", err)
		return 2
	}
	rep := r.soak(ctx)
	if ctx.Err() != nil {
		logf("interrupted: taking the service down")
		return 1
	}
	rep.Cleanup = e.checkDown()
	rep.print(os.Stdout)
	if !rep.passed() {
		return 1
	}
	return 0
}

// machine describes where the run happened, for docs/soak.md.
func machine() string {
	s := fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		s += ", kernel " + string(trimNL(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := cpuModel(string(b)); m != "" {
			s += ", " + m
		}
	}
	return s
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s soak: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

var errNotSettled = errors.New("the service did not settle")
