package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// easlocal runs the easlocal binary. Every call has its own time bound.
type easlocal struct {
	bin string
	// env is added to easlocal's environment (e.g. GOMAXPROCS=1).
	env []string
	// up lists the services this harness started, so cleanup can take
	// down whatever is still running.
	up map[string]bool
}

func (e *easlocal) run(ctx context.Context, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	if len(e.env) > 0 {
		cmd.Env = append(os.Environ(), e.env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("easlocal %s: %w: %s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out, nil
}

// upDetached runs `easlocal up -d` and returns once every instance is ready.
func (e *easlocal) upDetached(ctx context.Context, file string, n int, listen string, extra ...string) error {
	args := append([]string{"up", "-d", "-n", strconv.Itoa(n), "--listen", listen, "--wait-timeout", "4m"}, extra...)
	args = append(args, file)
	name := serviceName(file)
	e.up[name] = true
	_, err := e.run(ctx, 5*time.Minute, args...)
	return err
}

// down stops a service; it uses a fresh context so it also runs after the
// harness was interrupted.
func (e *easlocal) down(name string) error {
	_, err := e.run(context.Background(), 4*time.Minute, "down", name, "--timeout", "3m")
	if err == nil {
		delete(e.up, name)
	}
	return err
}

func (e *easlocal) downAll() {
	for name := range e.up {
		if err := e.down(name); err != nil {
			logf("cleanup: %v", err)
		}
	}
}

// driver is the running service's admin.Driver, found in the registry.
func (e *easlocal) driver(name string) (*admin.Driver, error) {
	return admin.Find(admin.Registry{}, name)
}

func (e *easlocal) ps(ctx context.Context, name string) (admin.ServiceStatus, error) {
	d, err := e.driver(name)
	if err != nil {
		return admin.ServiceStatus{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return d.Status(ctx)
}

func (e *easlocal) events(ctx context.Context, name string) ([]admin.Event, error) {
	d, err := e.driver(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	evs, _, err := d.Events(ctx, 0)
	return evs, err
}

// pid is the process serving the service, from the registry.
func (e *easlocal) pid(name string) (int, error) {
	d, err := e.driver(name)
	if err != nil {
		return 0, err
	}
	return d.Entry.PID, nil
}

func (e *easlocal) gatewayAddr(name string) (string, error) {
	d, err := e.driver(name)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(d.Entry.GatewayURL, "http://"), nil
}

func serviceName(file string) string {
	// <dir>/<name>/service.json (writeService)
	parts := strings.Split(file, string(os.PathSeparator))
	return parts[len(parts)-2]
}

// waitEndpoints waits until the service has want ready endpoints.
func (e *easlocal) waitEndpoints(ctx context.Context, name string, want int, timeout time.Duration) error {
	d, err := e.driver(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = d.WaitEndpoints(ctx, want)
	return err
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}
