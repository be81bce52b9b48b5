package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type results struct {
	Machine  map[string]string
	Started  time.Time
	Gateway  *gatewayResult  `json:",omitempty"`
	Failover *failoverResult `json:",omitempty"`
	Scale    *scaleResult    `json:",omitempty"`
	Update   *updateResult   `json:",omitempty"`
	// ProbesAtRest is measured on the 3 gateway instances before any load.
	ProbesAtRest *probeResult `json:",omitempty"`
	Errors       []string     `json:",omitempty"`
}

func main() {
	bin := flag.String("easlocal", "../bin/easlocal", "the easlocal binary (the default is the one `make build` writes, seen from tools/)")
	out := flag.String("out", "../bin/bench", "directory for results.md and results.json")
	only := flag.String("only", "gateway,failover,scale,update", "phases to run: gateway (with probe timing at rest), failover, scale (with CPU, memory and probe timing under 50 instances), update (a rolling update under load)")
	rounds := flag.Int("rounds", 5, "gateway rounds (each: every target at 16 clients and at 1) and update rounds (each: one `easlocal update` under load)")
	dur := flag.Duration("duration", 5*time.Second, "recording time per gateway measurement")
	foClients := flag.Int("failover-clients", 8, "closed-loop clients during failover")
	updClients := flag.Int("update-clients", 8, "closed-loop clients during the update phase")
	foRounds := flag.Int("failover-rounds", 3, "rounds of the 4 faults")
	scaleNs := flag.String("scale", "1,10,50", "instance counts for the scale phase")
	scaleRounds := flag.Int("scale-rounds", 3, "rounds of the scale phase")
	window := flag.Duration("cpu-window", 60*time.Second, "window for easlocal's CPU with the most instances")
	probeWindow := flag.Duration("probe-window", 20*time.Second, "how long probe intervals are recorded")
	var env envFlag
	flag.Var(&env, "easlocal-env", "KEY=VALUE added to easlocal's environment (repeatable), e.g. GOMAXPROCS=1 to try runtime settings")
	flag.Parse()
	easlocalEnv = env
	if err := run(*bin, *out, *only, *rounds, *dur, *foClients, *foRounds, *updClients, *scaleNs, *scaleRounds, *window, *probeWindow); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin, out, only string, rounds int, dur time.Duration, foClients, foRounds, updClients int, scaleNs string, scaleRounds int, window, probeWindow time.Duration) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: easlocal needs root to create network namespaces and containers")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%s not found; build it with `make build`", bin)
	}
	if _, err := exec.LookPath("nginx"); err != nil && strings.Contains(only, "gateway") {
		return errors.New("nginx is not on PATH; install it with `apt-get install nginx-light`")
	}
	var ns []int
	for _, s := range strings.Split(scaleNs, ",") {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
			return fmt.Errorf("-scale %q: give instance counts like 1,10,50", scaleNs)
		}
		ns = append(ns, n)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "easlocal-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &easlocal{bin: abs, env: easlocalEnv, up: map[string]bool{}}
	defer e.downAll()
	if out, err := e.run(ctx, time.Minute, "images", "-q"); err != nil || !strings.Contains(string(out), "easlocal.local/example:latest") {
		return fmt.Errorf("the example image is not loaded (%v); run `make examples && %s load bin/example-image.tar`", err, bin)
	}

	res := &results{Machine: machine(abs), Started: time.Now().UTC()}
	phase := func(name string, f func() error) {
		if !strings.Contains(only, name) || ctx.Err() != nil {
			return
		}
		if err := f(); err != nil {
			logf("%s: %v", name, err)
			res.Errors = append(res.Errors, name+": "+err.Error())
		}
		e.downAll()
	}
	phase("gateway", func() error {
		// Probe timing at rest first, on the same service the gateway
		// phase starts: see runGateway's probe hook.
		g, pr, err := runGatewayWithProbes(ctx, e, tmp, rounds, dur, probeWindow)
		res.Gateway, res.ProbesAtRest = g, pr
		return err
	})
	phase("failover", func() error {
		f, err := runFailover(ctx, e, tmp, foClients, foRounds)
		res.Failover = f
		return err
	})
	phase("scale", func() error {
		s, err := runScale(ctx, e, tmp, ns, scaleRounds, window, probeWindow)
		res.Scale = s
		return err
	})
	phase("update", func() error {
		u, err := runUpdate(ctx, e, tmp, updClients, rounds)
		res.Update = u
		return err
	})

	md := res.markdown()
	fmt.Print(md)
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	j, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "results.json"), j, 0o644); err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("%d phase(s) failed: %s", len(res.Errors), strings.Join(res.Errors, "; "))
	}
	return ctx.Err()
}

// runGatewayWithProbes records probe intervals on the gateway service
// before any load, then runs the gateway comparison.
func runGatewayWithProbes(ctx context.Context, e *easlocal, tmp string, rounds int, dur, probeWindow time.Duration) (*gatewayResult, *probeResult, error) {
	var pr *probeResult
	hook := func(ips []string) {
		logf("probes: recording probe intervals on %d instances at rest for %v", len(ips), probeWindow)
		p, err := sniffProbes(ctx, ips, probeWindow)
		if err != nil {
			logf("probes: %v", err)
			return
		}
		pr = p
	}
	g, err := runGateway(ctx, e, tmp, rounds, dur, hook)
	return g, pr, err
}

func machine(bin string) map[string]string {
	m := map[string]string{"nproc": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("containerd", "--version").Output(); err == nil {
		m["containerd"] = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("nginx", "-v").CombinedOutput(); err == nil {
		m["nginx"] = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command(bin, "version").Output(); err == nil {
		m["easlocal"] = strings.TrimSpace(string(b))
	}
	if len(easlocalEnv) > 0 {
		m["easlocal env"] = strings.Join(easlocalEnv, " ")
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg at start"] = strings.TrimSpace(string(b))
	}
	return m
}

func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Results of %s\n\n", r.Started.Format(time.RFC3339))
	for _, k := range []string{"nproc", "cpu", "kernel", "go", "containerd", "nginx", "easlocal", "easlocal env", "loadavg at start"} {
		if v, ok := r.Machine[k]; ok {
			fmt.Fprintf(&b, "- %s: %s\n", k, v)
		}
	}
	if r.Gateway != nil {
		b.WriteString("\n### Gateway\n\n" + r.Gateway.markdown())
	}
	if r.ProbesAtRest != nil {
		b.WriteString("\n### Probe timing, 3 instances at rest\n\n" + r.ProbesAtRest.markdown(probePeriod*time.Second))
	}
	if r.Failover != nil {
		b.WriteString("\n### Failover\n\n" + r.Failover.markdown())
	}
	if r.Scale != nil {
		b.WriteString("\n### Scale\n\n" + r.Scale.markdown())
		if r.Scale.Probes != nil {
			fmt.Fprintf(&b, "\n### Probe timing, %d instances\n\n%s", r.Scale.ProbeInstances, r.Scale.Probes.markdown(probePeriod*time.Second))
		}
	}
	if r.Update != nil {
		b.WriteString("\n### Rolling update under load\n\n" + r.Update.markdown())
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\nERROR: %s\n", e)
	}
	return b.String()
}

// easlocalEnv is the -easlocal-env flag.
var easlocalEnv []string

type envFlag []string

func (f *envFlag) String() string { return strings.Join(*f, " ") }

func (f *envFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q: write KEY=VALUE", v)
	}
	*f = append(*f, v)
	return nil
}
