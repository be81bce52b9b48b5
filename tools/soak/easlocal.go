package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/runtime"
)

// The soak service: the demo's three HTTP probes at a 1 s period, with
// the thresholds written out so the fault timings can be read off them.
const serviceTemplate = `{
  "metadata": {"name": %q, "instance": %d},
  "containers": [{
    "image": "easlocal.local/example:latest",
    "port": 8000,
    "startup_check": {"http_get": {"path": "/startup", "port": 8000},
      "period_seconds": 1, "timeout_seconds": 1, "failure_threshold": 30},
    "health_check": {"http_get": {"path": "/ready", "port": 8000},
      "period_seconds": 1, "timeout_seconds": 1, "failure_threshold": 3},
    "liveness_check": {"http_get": {"path": "/health", "port": 8000},
      "period_seconds": 1, "timeout_seconds": 1, "failure_threshold": 3}
  }]
}
`

// writeService writes service.json into a directory named after the
// service (`up -d` names its output file after it).
func writeService(dir, name string, n int) (string, error) {
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(d, "service.json")
	return p, os.WriteFile(p, fmt.Appendf(nil, serviceTemplate, name, n), 0o644)
}

// easlocal drives the binary for one service.
type easlocal struct {
	bin  string
	name string
	// upped is set once `up -d` was started and cleared once down has
	// succeeded; only main's goroutine touches it.
	upped bool
}

// cmd runs the binary with a time bound and returns its combined output.
func (e *easlocal) cmd(ctx context.Context, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, e.bin, args...)
	// Interrupt rather than kill, so an `up -d` cut short by Ctrl-C
	// tears down what it started; SIGKILL only if it does not exit.
	c.Cancel = func() error { return c.Process.Signal(os.Interrupt) }
	c.WaitDelay = 30 * time.Second
	out, err := c.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("easlocal %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

func (e *easlocal) up(ctx context.Context, file string) error {
	e.upped = true
	_, err := e.cmd(ctx, 5*time.Minute, "up", "-d", "--listen", "127.0.0.1:0",
		"--backoff-initial", "1s", "--backoff-max", "5s", "--stop-grace", "3s",
		"--wait-timeout", "4m", file)
	return err
}

// down takes the service down if it may still be up; it ignores the
// caller's context so Ctrl-C still cleans up.
func (e *easlocal) down() {
	if !e.upped {
		return
	}
	if _, err := e.cmd(context.Background(), 3*time.Minute, "down", e.name, "--timeout", "2m"); err != nil {
		logf("cleanup: %v", err)
		return
	}
	e.upped = false
}

func (e *easlocal) kill(ctx context.Context, instance string) error {
	_, err := e.cmd(ctx, 30*time.Second, "kill", e.name, instance)
	return err
}

// session is the running service: its admin.Driver (the one the CLI
// uses) and a client for /metrics.
type session struct {
	*admin.Driver
	http *http.Client
}

func (e *easlocal) session() (*session, error) {
	d, err := admin.Find(admin.Registry{}, e.name)
	if err != nil {
		return nil, fmt.Errorf("service %s is not in easlocal's registry after up -d: %w", e.name, err)
	}
	return &session{Driver: d, http: &http.Client{Timeout: 10 * time.Second}}, nil
}

// metrics fetches the control API's /metrics and parses it.
func (s *session) metrics(ctx context.Context) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Entry.AdminURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Entry.AdminToken)
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	m, err := parseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	return m, nil
}

// rssKB reads VmRSS of pid in kB.
func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cleanupReport is what `easlocal down` left behind.
type cleanupReport struct {
	DownErr    error    // the first down failed
	SecondDown string   // what the second down said
	Netns      []string // easlocal-<name>-* left in runtime.NetNSDir
	Shims      []int    // containerd shims still running the service's containers
	Alive      bool     // the easlocal process still runs
}

func (c cleanupReport) ok() bool {
	return c.DownErr == nil && strings.Contains(c.SecondDown, "left nothing behind") &&
		len(c.Netns) == 0 && len(c.Shims) == 0 && !c.Alive
}

// checkDown runs `easlocal down`, then checks that nothing is left: a
// second down finds nothing (it looks for containers, snapshots, netns
// and IP leases), no netns and no shim of the service remain, and the
// background easlocal has exited.
func (e *easlocal) checkDown() cleanupReport {
	var r cleanupReport
	pid := 0
	if ent, err := (admin.Registry{}).Lookup(e.name); err == nil {
		pid = ent.PID
	}
	logf("easlocal down %s", e.name)
	if _, err := e.cmd(context.Background(), 3*time.Minute, "down", e.name, "--timeout", "2m"); err != nil {
		r.DownErr = err
		return r
	}
	e.upped = false
	out, err := e.cmd(context.Background(), time.Minute, "down", e.name)
	r.SecondDown = strings.TrimSpace(string(out))
	if err == nil {
		r.SecondDown = "exited 0 (found something to remove): " + r.SecondDown
	}
	if ents, err := os.ReadDir(runtime.NetNSDir); err == nil {
		for _, d := range ents {
			if strings.HasPrefix(d.Name(), "easlocal-"+e.name+"-") {
				r.Netns = append(r.Netns, d.Name())
			}
		}
	}
	r.Shims = shims(e.name)
	if pid > 0 {
		r.Alive = running(pid)
	}
	return r
}

// shims lists the containerd shims whose container id belongs to service
// (ids are <service>.<instance>.<container>.<suffix>).
func shims(service string) []int {
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-id" && strings.HasPrefix(args[i+1], service+".") {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
